"""Migration 0002 goes up, down and up again on SQLite and PostgreSQL, leaving 0001 intact."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.migrations import tables_down_and_up

DECISION_TABLES = {
    "policy_versions",
    "strikes",
    "review_items",
    "review_labels",
    "audit_log",
    "webhook_deliveries",
}


async def test_0002_upgrades_downgrades_and_upgrades_again(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        down, up = await tables_down_and_up(engine, "0001")
        assert not DECISION_TABLES & down and {"messages", "decisions"} <= down
        assert up >= DECISION_TABLES
    finally:
        await engine.dispose()


async def test_0005_adds_the_review_priority_and_takes_it_away_again(database_url: str) -> None:
    engine = create_async_engine(database_url)

    async def columns() -> set[str]:
        async with engine.connect() as connection:
            found = await connection.run_sync(lambda c: inspect(c).get_columns("review_items"))
        return {c["name"] for c in found}

    def downgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")

    try:
        await upgrade(engine)
        assert "priority" in await columns()
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
        assert "priority" not in await columns()
        await upgrade(engine)
        assert "priority" in await columns()
    finally:
        await engine.dispose()
