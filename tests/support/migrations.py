"""Taking a database's schema down to a revision and up again, for the migration tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from chatguard.storage.migrate import alembic_config, upgrade

T = TypeVar("T")


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def columns_of(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as connection:
        found = await connection.run_sync(lambda c: inspect(c).get_columns(table))
    return {column["name"] for column in found}


async def down_and_up(
    engine: AsyncEngine, revision: str, read: Callable[[AsyncEngine], Awaitable[T]]
) -> tuple[T, T]:
    """Upgrade to head, downgrade to `revision`, upgrade again: what `read` (an async
    function of the engine) gives after the downgrade and after the second upgrade."""

    def downgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.run_sync(downgrade)
    down = await read(engine)
    await upgrade(engine)
    return down, await read(engine)


async def tables_down_and_up(engine: AsyncEngine, revision: str) -> tuple[set[str], set[str]]:
    """The tables after a downgrade to `revision` and after the upgrade that follows."""
    return await down_and_up(engine, revision, table_names)
