"""`chatguard migrate` as a user runs it, on a SQLite file and on a fresh PostgreSQL database,
and the indexes of migration 0006."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from chatguard.storage.migrate import head_revision
from tests.conftest import PG_ADMIN_URL, port_answers

CHATGUARD = str(Path(sys.executable).with_name("chatguard"))

#: The query indexes (migrations 0005 and 0006), by table.
QUERY_INDEXES = {
    "audit_log": {"ix_audit_user", "ix_audit_at", "ix_audit_channel"},
    "review_items": {
        "ix_review_items_queue",
        "ix_review_items_channel_created",
        "ix_review_items_user",
        "ix_review_items_created",
    },
    "review_labels": {"ix_review_labels_created"},
    "messages": {"ix_messages_received", "ix_messages_channel_received"},
    "decisions": {"ix_decisions_created", "ix_decisions_provisional_created"},
    "strikes": {"ix_strikes_user"},
}


def migrate(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [CHATGUARD, "migrate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "DATABASE_URL": url},
    )


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """A database of its own on the shared PostgreSQL, dropped after the test."""
    if not port_answers(5432):
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    import asyncpg

    name = f"chatguard_migrate_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        connection = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]
    try:
        yield f"postgresql+asyncpg://{base}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'migrate.db'}"
    url: str = request.getfixturevalue("fresh_postgres")
    return url


def indexes(url: str) -> dict[str, set[str]]:
    def read(connection: Connection) -> dict[str, set[str]]:
        found = inspect(connection)
        return {t: {i["name"] for i in found.get_indexes(t) if i["name"]} for t in QUERY_INDEXES}

    async def run() -> dict[str, set[str]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(read)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_migrate_brings_an_empty_database_to_the_head_once(empty_database: str) -> None:
    head = head_revision()
    check = migrate(empty_database, "--check")
    assert check.returncode == 1 and "revision none" in check.stdout

    first = migrate(empty_database)
    assert first.returncode == 0, first.stderr
    assert f"from revision none to {head}" in first.stdout

    again = migrate(empty_database)  # idempotent
    assert again.returncode == 0, again.stderr
    assert f"already at revision {head}" in again.stdout
    assert migrate(empty_database, "--check").returncode == 0

    found = indexes(empty_database)
    for table, names in QUERY_INDEXES.items():
        assert names <= found[table], (table, names - found[table])


def test_migrate_says_plainly_when_the_database_is_away(tmp_path: Path) -> None:
    from tests.conftest import free_port

    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none"
    result = migrate(url)
    assert result.returncode == 1
    assert "unavailable" in result.stderr and "Traceback" not in result.stderr
