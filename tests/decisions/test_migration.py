"""Migrations go up, down and up again on SQLite and PostgreSQL, leaving earlier ones intact."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.migrations import columns_of, down_and_up, tables_down_and_up

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
    try:
        down, up = await down_and_up(engine, "0004", lambda e: columns_of(e, "review_items"))
        assert "priority" not in down and "priority" in up
    finally:
        await engine.dispose()
