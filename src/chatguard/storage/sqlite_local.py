"""A SQLite file's synchronous side: the store's grouped writes and look-ups on the plain
`sqlite3` driver, run on the event loop's own thread.

Why not a thread: the aiosqlite driver runs every call (execute, fetch, commit, cursor close)
in a thread of its own, and each call there must take the GIL back from the event loop. While
the loop is busy that wait is up to the interpreter's switch interval (5 ms) per call, so a
small transaction of a dozen calls took tens of milliseconds: a convoy, not database work. A
grouped transaction on a local file in WAL mode with `synchronous=NORMAL` takes well under a
millisecond per message of CPU and no disk wait (commits append to the log; see
docs/performance.md), so running it where the loop is costs less than handing it anywhere.

One group is written at a time, so this process has one writer, as SQLite wants. The loop's
thread never waits for a lock, though: another connection may hold the write lock (another
process on the file, `serve --workers N`, or this process's own aiosqlite connections, whose
transactions need the loop to finish). An attempt on the loop's thread therefore runs with a
busy timeout of zero; when the lock is taken it fails at once, is rolled back, and the same work
runs again in a writer thread that waits for the lock with the full busy timeout.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from chatguard.errors import StoreUnavailableError
from chatguard.storage import json_text
from chatguard.storage.guard import OUTAGE_ERRORS
from chatguard.storage.privacy import scrub_error
from chatguard.storage.sqlite_rows import sqlalchemy_error

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
            json_serializer=json_text.dumps,
            connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
            pool_size=2,
            max_overflow=2,
        )
        event.listen(self.engine, "connect", pragmas)
        event.listen(self.engine, "handle_error", scrub_error)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.busy_timeout_ms = int(busy_timeout_s * 1000)
        #: Attempts that found the lock taken and waited for it in the writer thread.
        self.waited = 0
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="chatguard-sqlite-writer")
        #: The connection the look-ups use on the loop's thread (busy timeout zero), opened
        #: at the first look-up.
        self._reader: Any = None
        #: The connection of `write_plain`, likewise.
        self._writer: Any = None

    async def write(self, work: Callable[[Session], T]) -> T:
        """`work(session)` inside a transaction committed after it."""
        return await self._run(work, self._transaction)

    async def read(self, work: Callable[[Session], T]) -> T:
        """`work(session)` in a session of its own."""
        return await self._run(work, self._session)

    async def write_plain(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work(connection)` inside a transaction committed after it, on the plain connection
        kept for writes that need no session (no SQLAlchemy session, pool checkout or reset
        per transaction). Locked, it runs in the writer thread like `write`."""
        with _unavailable_on_failure():
            try:
                return self._plain_transaction(work)
            except OperationalError as exc:
                if not _locked(exc):
                    self._drop_writer()
                    raise
            self.waited += 1
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._thread,
                self._transaction,
                lambda s: work(plain_connection(s)),
                self.busy_timeout_ms,
            )

    def _plain_transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer is None:
            writer = self.engine.raw_connection()
            writer.cursor().execute("PRAGMA busy_timeout = 0")
            self._writer = writer
        connection: sqlite3.Connection = self._writer.dbapi_connection
        try:
            result = work(connection)
            try:
                connection.commit()
            except sqlite3.Error as exc:
                raise sqlalchemy_error("COMMIT", exc, self.engine.dialect) from exc
        except BaseException:
            try:
                connection.rollback()
            except sqlite3.Error:
                self._drop_writer()
            raise
        return result

    def _drop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.invalidate()

    async def look_up(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work(connection)` of reads only, on the plain connection kept for look-ups (each
        statement reads its own snapshot; in WAL mode readers do not wait for the writer). If
        the file is locked all the same (a checkpoint, recovery), it runs in the writer thread
        on a connection that waits for the lock."""
        with _unavailable_on_failure():
            try:
                return work(self._look_up_connection())
            except OperationalError as exc:
                self._drop_reader()
                if not _locked(exc):
                    raise
            self.waited += 1
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._thread,
                self._session,
                lambda s: work(plain_connection(s)),
                self.busy_timeout_ms,
            )

    def _look_up_connection(self) -> sqlite3.Connection:
        if self._reader is None:
            reader = self.engine.raw_connection()
            reader.cursor().execute("PRAGMA busy_timeout = 0")
            self._reader = reader
        connection: sqlite3.Connection = self._reader.dbapi_connection
        return connection

    def _drop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.invalidate()

    async def _run(self, work: Callable[[Session], T], how: Callable[..., T]) -> T:
        with _unavailable_on_failure():
            try:
                return how(work, 0)
            except OperationalError as exc:
                if not _locked(exc):
                    raise
            self.waited += 1
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._thread, how, work, self.busy_timeout_ms)

    def _transaction(self, work: Callable[[Session], T], busy_ms: int) -> T:
        with self.sessions.begin() as session:
            _set_busy_timeout(session, busy_ms)
            return work(session)

    def _session(self, work: Callable[[Session], T], busy_ms: int) -> T:
        with self.sessions() as session:
            _set_busy_timeout(session, busy_ms)
            return work(session)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        for pooled in (self._reader, self._writer):
            if pooled is not None:
                pooled.close()
        self._reader = self._writer = None
        self.engine.dispose()


def _set_busy_timeout(session: Session, busy_ms: int) -> None:
    """Set the busy timeout of `session`'s connection, unless it has it already (each pooled
    connection remembers the one it was given last)."""
    pooled = session.connection().connection
    if pooled.info.get("busy_timeout_ms") != busy_ms:
        pooled.dbapi_connection.execute(f"PRAGMA busy_timeout = {busy_ms}")  # type: ignore[union-attr]
        pooled.info["busy_timeout_ms"] = busy_ms


def plain_connection(session: Session) -> sqlite3.Connection:
    """The `sqlite3` connection under `session`'s connection (in its transaction)."""
    connection: sqlite3.Connection = session.connection().connection.dbapi_connection  # type: ignore[assignment]
    return connection


def _locked(exc: OperationalError) -> bool:
    """Did SQLite refuse because another connection holds the lock (SQLITE_BUSY)?"""
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


@contextmanager
def _unavailable_on_failure() -> Iterator[None]:
    # The synchronous twin of `guard.unavailable_on_failure`.
    try:
        yield
    except IntegrityError:
        raise
    except OUTAGE_ERRORS as exc:
        raise StoreUnavailableError(f"the database is unavailable ({type(exc).__name__})") from exc
