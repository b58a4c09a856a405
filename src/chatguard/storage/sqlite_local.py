"""A SQLite file's synchronous side: the store's grouped writes and look-ups on the plain
`sqlite3` driver, run on the event loop's own thread.

Why not a thread: the aiosqlite driver runs every call (execute, fetch, commit, cursor close)
in a thread of its own, and each call there must take the GIL back from the event loop. While
the loop is busy that wait is up to the interpreter's switch interval (5 ms) per call, so a
small transaction of a dozen calls took tens of milliseconds: a convoy, not database work. A
grouped transaction on a local file in WAL mode with `synchronous=NORMAL` takes well under a
millisecond per message of CPU and no disk wait (commits append to the log; see
docs/performance.md), so running it where the loop is costs less than handing it anywhere.

One connection writes, so this process has one writer, as SQLite wants; another process on the
same file (`serve --workers N`) is waited for through the busy timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chatguard.errors import StoreUnavailableError
from chatguard.storage.guard import OUTAGE_ERRORS
from chatguard.storage.privacy import scrub_error

T = TypeVar("T")


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL, or None (another database, or one in memory: a
    second engine would see another, empty database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or "mode=memory" in str(parsed.query):
        return None
    return database


class SqliteLocal:
    """Runs functions of a synchronous `Session` on a SQLite file, in the caller's thread."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout_s: float,
        pragmas: Callable[[Any, Any], None],
    ) -> None:
        # Parameters hidden and error details scrubbed, as on the async engine.
        self.engine: Engine = create_engine(
            f"sqlite+pysqlite:///{path}",
            hide_parameters=True,
            connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
            pool_size=1,
            max_overflow=1,
        )
        event.listen(self.engine, "connect", pragmas)
        event.listen(self.engine, "handle_error", scrub_error)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    async def write(self, work: Callable[[Session], T]) -> T:
        """`work(session)` inside a transaction committed after it."""
        with _unavailable_on_failure(), self.sessions.begin() as session:
            return work(session)

    async def read(self, work: Callable[[Session], T]) -> T:
        """`work(session)` in a session of its own."""
        with _unavailable_on_failure(), self.sessions() as session:
            return work(session)

    def close(self) -> None:
        self.engine.dispose()


@contextmanager
def _unavailable_on_failure() -> Iterator[None]:
    # The synchronous twin of `guard.unavailable_on_failure`.
    try:
        yield
    except IntegrityError:
        raise
    except OUTAGE_ERRORS as exc:
        raise StoreUnavailableError(f"the database is unavailable ({type(exc).__name__})") from exc
