"""One translation of database failures into the domain's `StoreUnavailableError`, so a
database that is down, restarting or overloaded is a 503 (or a fallback), never a 500.
An integrity error is not a failure: callers handle it (a conflict, an id already stored)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chatguard.errors import StoreUnavailableError

try:  # asyncpg errors can escape SQLAlchemy's wrapping while a connection is being made
    import asyncpg

    _DRIVER_ERRORS: tuple[type[BaseException], ...] = (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
    )
except ImportError:  # pragma: no cover - asyncpg is a dependency
    _DRIVER_ERRORS = ()

OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    SQLAlchemyError,
    OSError,
    asyncio.TimeoutError,
    *_DRIVER_ERRORS,
)


def is_outage(exc: BaseException) -> bool:
    """Did the database fail (as opposed to refusing a duplicate key)?"""
    return isinstance(exc, OUTAGE_ERRORS) and not isinstance(exc, IntegrityError)


@asynccontextmanager
async def unavailable_on_failure(what: str = "the database") -> AsyncIterator[None]:
    """Raise `StoreUnavailableError` (naming the error type, never a statement or its
    parameters, which may hold message text) when the block fails on the database."""
    try:
        yield
    except IntegrityError:
        raise
    except OUTAGE_ERRORS as exc:
        raise StoreUnavailableError(f"{what} is unavailable ({type(exc).__name__})") from exc


class GuardedSessions:
    """An `async_sessionmaker` whose sessions raise `StoreUnavailableError` on failure:
    `async with sessions() as s` and `async with sessions.begin() as s` as usual, and
    `sessions.reading()` for look-ups that need no transaction."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self.factory = factory
        self._reads = factory
        engine = factory.kw.get("bind")
        if isinstance(engine, AsyncEngine) and engine.dialect.name == "postgresql":
            # Each statement on its own: no BEGIN and ROLLBACK round trips around a look-up
            # (on asyncpg the isolation level is a flag of the pooled connection, not a query).
            self._reads = async_sessionmaker(
                engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
            )

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        async with unavailable_on_failure(), self.factory() as session:
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads whose statements need not share a snapshot (a look-up by
        key): on PostgreSQL each runs alone, outside a transaction; it must not write."""
        async with unavailable_on_failure(), self._reads() as session:
            yield session

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        async with unavailable_on_failure(), self.factory.begin() as session:
            yield session
