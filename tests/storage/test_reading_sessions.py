"""Look-ups on PostgreSQL run outside a transaction (no BEGIN and ROLLBACK round trips);
sessions that may write keep theirs. On SQLite a reading session is an ordinary one."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from chatguard.storage.guard import GuardedSessions

# When the transaction the statement runs in began.
_BEGAN = text("SELECT xact_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")


async def _second_statement_alone(sessions: GuardedSessions, *, reading: bool) -> bool:
    opened = sessions.reading() if reading else sessions()
    async with opened as session:
        first = (await session.execute(_BEGAN)).scalar_one()
        await session.execute(text("SELECT pg_sleep(0.02)"))
        return bool((await session.execute(_BEGAN)).scalar_one() > first)


async def test_on_postgresql_reads_run_each_statement_alone(postgres_url: str) -> None:
    engine = create_async_engine(postgres_url)
    try:
        sessions = GuardedSessions(async_sessionmaker(engine))
        assert await _second_statement_alone(sessions, reading=True)
        assert not await _second_statement_alone(sessions, reading=False)
        async with sessions.begin() as session:
            first = (await session.execute(_BEGAN)).scalar_one()
            await session.execute(text("SELECT pg_sleep(0.02)"))
            assert (await session.execute(_BEGAN)).scalar_one() == first
    finally:
        await engine.dispose()


async def test_on_sqlite_a_reading_session_is_an_ordinary_one(sqlite_url: str) -> None:
    engine = create_async_engine(sqlite_url)
    try:
        sessions = GuardedSessions(async_sessionmaker(engine))
        async with sessions.reading() as session:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
        assert sessions._reads is sessions.factory
    finally:
        await engine.dispose()
