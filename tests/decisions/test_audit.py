"""The audit log is append-only: no update or delete in the repository, and on PostgreSQL the
database refuses them too."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from chatguard.decisions.audit import AuditLog
from chatguard.decisions.repository import DecisionRepository
from chatguard.storage import SqlStore
from tests.decisions.conftest import Clock


async def test_entries_are_kept_newest_first_with_who_what_when_why(
    repository: DecisionRepository, clock: Clock
) -> None:
    audit = AuditLog(repository=repository, clock=clock)
    await audit.record(actor="anna", action="policy.update", channel_id="c", reason="stricter")
    clock.advance(5)
    await audit.record(
        actor="ben",
        action="review.denied",
        channel_id="c",
        user_id="u",
        message_id="m",
        reason="slur",
        details={"outcome": "ban"},
    )
    await audit.record(actor="ben", action="policy.update", channel_id="other")
    newest, oldest = await audit.entries(channel_id="c")
    assert (newest.actor, newest.action, newest.reason, newest.at) == (
        "ben",
        "review.denied",
        "slur",
        clock.now,
    )
    assert (oldest.actor, oldest.at) == ("anna", clock.now - 5)
    assert [e.channel_id for e in await audit.entries(actor="ben")] == ["other", "c"]
    assert newest.id is not None
    page = await audit.entries(before_id=newest.id)
    assert [e.actor for e in page] == ["anna"]


def test_the_repository_offers_no_way_to_change_the_log() -> None:
    names = [n for n in dir(DecisionRepository) if "audit" in n]
    assert sorted(names) == ["append_audit", "audit_entries"]


@pytest.mark.postgres
async def test_postgresql_refuses_to_rewrite_the_audit_log(postgres_url: str) -> None:
    store = SqlStore(postgres_url)
    await store.start()
    try:
        audit = AuditLog(repository=DecisionRepository(engine=store.engine))
        await audit.record(actor="anna", action="policy.update", reason="x")
        for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"):
                async with store.engine.begin() as connection:
                    await connection.exec_driver_sql(statement)
        [entry] = await audit.entries()
        assert entry.actor == "anna"
    finally:
        async with store.engine.begin() as connection:
            await connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            await connection.exec_driver_sql("CREATE SCHEMA public")
        await store.close()
