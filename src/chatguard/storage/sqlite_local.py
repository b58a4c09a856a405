"""A SQLite file's synchronous side: one writer thread and one reader thread on the plain
`sqlite3` driver, for the store's grouped writes and look-ups (see `inline.py` for why).

One writer thread means one writer per process, as SQLite wants; several processes on one file
wait for each other's write lock (the busy timeout) instead of failing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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


class SqliteThreads:
    """Runs functions of a synchronous `Session` in the writer or the reader thread."""

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
            pool_size=2,
            max_overflow=2,
        )
        event.listen(self.engine, "connect", pragmas)
        event.listen(self.engine, "handle_error", scrub_error)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="chatguard-sqlite-writer")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="chatguard-sqlite-reader")

    async def write(self, work: Callable[[Session], T]) -> T:
        """`work(session)` in the writer thread, inside a transaction committed after it."""
        return await self._call(self._writer, self._in_transaction, work)

    async def read(self, work: Callable[[Session], T]) -> T:
        """`work(session)` in the reader thread."""
        return await self._call(self._reader, self._in_session, work)

    async def _call(self, pool: ThreadPoolExecutor, runner: Any, work: Any) -> T:
        loop = asyncio.get_running_loop()
        result: T = await loop.run_in_executor(pool, runner, work)
        return result

    def _in_transaction(self, work: Callable[[Session], T]) -> T:
        with _unavailable_on_failure(), self.sessions.begin() as session:
            return work(session)

    def _in_session(self, work: Callable[[Session], T]) -> T:
        with _unavailable_on_failure(), self.sessions() as session:
            return work(session)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)
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
