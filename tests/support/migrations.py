"""Taking a database's schema down to a revision and up again, for the migration tests."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from chatguard.storage.migrate import alembic_config, upgrade


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def tables_down_and_up(engine: AsyncEngine, revision: str) -> tuple[set[str], set[str]]:
    """Upgrade to head, downgrade to `revision`, upgrade again: the tables after the
    downgrade and after the second upgrade."""

    def downgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.run_sync(downgrade)
    down = await table_names(engine)
    await upgrade(engine)
    return down, await table_names(engine)
