"""Pooled PostgreSQL connections are tested before use only after sitting idle: a connection
the server closed while it was idle is replaced before anyone uses it, and one in steady use
is handed out without a test's round trips."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from chatguard.storage import liveness
from chatguard.storage.store import SqlStore
from tests.conftest import PG_ADMIN_URL


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[SqlStore]:
    store = SqlStore(postgres_url)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


async def _backend(store: SqlStore) -> int:
    async with store.engine.connect() as connection:
        return int((await connection.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one())


def _count_pings(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    dialect = store.engine.sync_engine.dialect
    pings: list[Any] = []
    real = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return pings


async def test_a_connection_closed_while_idle_is_replaced_before_use(store: SqlStore) -> None:
    first = await _backend(store)
    await asyncio.sleep(liveness.IDLE_S + 0.2)
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
    finally:
        await admin.close()
    await asyncio.sleep(0.1)
    # The pooled connection is dead; the statement still runs, on a new one.
    assert await store.count() == 0
    assert await _backend(store) != first


async def test_a_connection_in_steady_use_is_not_tested(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.count()
    pings = _count_pings(store, monkeypatch)
    for _ in range(20):
        await store.count()
    assert pings == []
    await asyncio.sleep(liveness.IDLE_S + 0.2)
    await store.count()
    assert len(pings) == 1
