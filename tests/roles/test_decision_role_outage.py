"""The decision role while its database is away: it still decides (the channel's last loaded
policy, the strikes it has seen), keeps the effects in its spool, and writes each of them once
when the database is back, retries included."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from chatguard.api.roles import create_role_app
from chatguard.config import load_settings
from chatguard.domain import Assessment, Message, Route
from chatguard.roles.remote_decider import decide_body
from chatguard.taxonomy import Category
from tests.conftest import LiveServer, free_port
from tests.support.effects import read_ledger
from tests.support.private_pg import PrivatePostgres

pytestmark = [pytest.mark.slow]


def _offence(n: int) -> tuple[Message, Assessment]:
    message = Message(text="you absolute idiot", user_id="u1", channel_id="general", id=f"m{n}")
    assessment = Assessment(
        message_id=message.id,
        scores={Category.HARASSMENT: 0.97},
        route=Route.ACT,
        decided_by="classifier",
    )
    return message, assessment


def _insult(n: int) -> dict[str, object]:
    return decide_body(*_offence(n))


async def _count(url: str, sql: str) -> int:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as c:
            return int((await c.execute(text(sql))).scalar_one())
    finally:
        await engine.dispose()


async def test_effects_wait_in_the_spool_and_are_written_once(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    settings = load_settings(
        database_url=private_postgres.url,
        spool_path=str(tmp_path / "spool.sqlite3"),
        _env_file=None,
    )
    with LiveServer(create_role_app("decision", settings), free_port()) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            first = await client.post("/decide", json=_insult(1))
            assert first.status_code == 200 and "strike 1" in first.json()["reason"]
            await asyncio.to_thread(private_postgres.stop)
            during = await client.post(
                "/decide/batch", json={"decisions": [_insult(2), _insult(3)]}
            )
            # A retry of the same decisions while the database is still away.
            retried = await client.post(
                "/decide/batch", json={"decisions": [_insult(2), _insult(3)]}
            )
            health = (await client.get("/health")).json()
            await asyncio.to_thread(private_postgres.start)
            for _ in range(100):
                metrics = (await client.get("/metrics")).text
                if "chatguard_spool_depth 0.0" in metrics:
                    break
                await asyncio.sleep(0.2)
            after = await client.post("/decide", json=_insult(4))
    assert during.status_code == 200 and retried.status_code == 200
    reasons = [r["reason"] for r in during.json()["results"]]
    # The strikes this process gave count while the database is away.
    assert "strike 2" in reasons[0] and "strike 3" in reasons[1], reasons
    assert [r["reason"] for r in retried.json()["results"]] == reasons
    assert health["status"] == "degraded"
    assert "strike 4" in after.json()["reason"]
    strikes = await _count(
        private_postgres.url, "SELECT COUNT(*) FROM strikes WHERE channel_id = 'general'"
    )
    audits = await _count(
        private_postgres.url, "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'decision.%'"
    )
    assert strikes == 4 and audits == 4
    ledger = await read_ledger(private_postgres.url)
    assert not ledger.actions  # the decision role stores no messages: the api role does


async def test_a_write_whose_outcome_was_lost_answers_what_it_wrote(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The database fails after the commit landed (the answer to COMMIT was lost): the
    decision answered and spooled is the one written, not one planned again from what this
    process knows, and the spooled copy writes nothing a second time."""
    from chatguard.errors import StoreUnavailableError

    settings = load_settings(
        database_url=sqlite_url, spool_path=str(tmp_path / "spool.sqlite3"), _env_file=None
    )
    app = create_role_app("decision", settings)
    with LiveServer(app, free_port()) as server:
        engine = app.state.application.service.policy
        repository = engine.repository
        # An earlier strike that another process gave: this one has not seen it.
        other = engine.__class__(repository=repository)
        await other.decide(*_offence(0))
        written = repository.apply_many

        async def commits_then_fails(effects: object) -> object:
            await written(effects)
            repository.apply_many = written
            raise StoreUnavailableError("the connection was lost")

        repository.apply_many = commits_then_fails
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            answer = await client.post("/decide/batch", json={"decisions": [_insult(1)]})
            for _ in range(100):
                metrics = (await client.get("/metrics")).text
                if "chatguard_spool_depth 0.0" in metrics:
                    break
                await asyncio.sleep(0.2)
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["results"]
    assert "strike 2" in result["reason"], result["reason"]
    assert await _count(sqlite_url, "SELECT COUNT(*) FROM strikes") == 2
    [[action, reason]] = await _rows(
        sqlite_url, "SELECT action, reason FROM audit_log WHERE message_id = 'm1'"
    )
    assert (action, reason) == (f"decision.{result['action']}", result["reason"])


async def _rows(url: str, sql: str) -> list[list[object]]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as c:
            return [list(r) for r in (await c.execute(text(sql))).all()]
    finally:
        await engine.dispose()
