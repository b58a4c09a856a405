"""The database away: moderation answers from what it knows, decisions wait in the spool (a
local file) and are stored with their effects when the database is back; a full spool is a 503
with Retry-After; the spool survives a restart. The database here is a SQLite file in a folder
that does not exist yet, so it is unreachable until the test makes the folder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatguard.api import create_app
from chatguard.config import Settings, load_settings
from chatguard.domain import Message
from chatguard.service import ModerationService
from tests.support.effects import read_ledger


def away_settings(tmp_path: Path, **extra: Any) -> Settings:
    options: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'later' / 'chatguard.db'}",
        "spool_path": str(tmp_path / "spool.sqlite3"),
        "pipeline_stages": "rules",
        "_env_file": None,
    }
    options.update(extra)
    return load_settings(**options)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(away_settings(tmp_path, spool_max_messages=5))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cg") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def body(i: int) -> dict[str, str]:
    text = "kys" if i % 2 == 0 else f"good game {i}"
    return {"message": text, "user_id": "u1", "channel_id": "lobby", "message_id": f"m-{i}"}


async def wait_for(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_spooled_while_away_refused_when_full_stored_when_back(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    health = await api.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    database = health.json()["components"]["database"]
    assert database["ok"] is False and "sqlite unreachable" in database["detail"]
    assert "moderation goes on" in database["detail"]

    answers = []
    for i in range(5):
        response = await api.post("/moderate", json=body(i))
        assert response.status_code == 200, response.text
        answers.append(response.json())
    # The ladder climbs on the strikes this process gave: the third offence is a timeout.
    assert [a["action"] for a in answers] == ["delete", "allow", "delete", "allow", "timeout"]
    again = await api.post("/moderate", json=body(0))
    assert again.json() == answers[0]  # a retry gets the spooled answer

    full = await api.post("/moderate", json=body(5))
    assert full.status_code == 503 and full.headers["retry-after"] == "5"
    assert full.json()["error"]["type"] == "database_unavailable"
    assert "buffer is full" in full.json()["error"]["message"]
    down = await api.get("/health")
    assert (
        down.status_code == 503
        and "5 decisions spooled" in (down.json()["components"]["database"]["detail"])
    )
    review = await api.get("/review")  # what needs the database says so, never a 500
    assert review.status_code == 503 and review.headers["retry-after"] == "5"
    assert review.json()["error"]["type"] == "database_unavailable"
    metrics = (await api.get("/metrics")).text
    assert 'chatguard_spool_messages_total{outcome="spooled"} 5.0' in metrics
    assert 'chatguard_spool_messages_total{outcome="refused"} 1.0' in metrics
    assert "chatguard_database_failures_total{" in metrics

    (tmp_path / "later").mkdir()  # the database is back
    service: ModerationService = api.app.state.service  # type: ignore[attr-defined]
    assert service.store is not None
    store = service.store

    async def stored() -> bool:
        try:
            return await store.count() == 5
        except Exception:
            return False

    await wait_for(stored)
    replay = await api.post("/moderate", json=body(0))
    assert replay.json() == answers[0]
    assert (await api.post("/moderate", json=body(5))).status_code == 200
    metrics = (await api.get("/metrics")).text
    assert 'chatguard_spool_messages_total{outcome="flushed"} 5.0' in metrics
    assert (await api.get("/health")).json()["status"] == "ok"
    ledger = await read_ledger(str(store.url))
    ledger.check_exactly_once()
    assert sum(ledger.strikes.values()) == 3  # m-0, m-2 and m-4 ("kys"), once each
    strikes = (await api.get("/users/lobby/u1")).json()["strikes"]
    assert sorted(s["message_id"] for s in strikes) == ["m-0", "m-2", "m-4"]


async def test_the_spool_survives_a_restart(tmp_path: Path) -> None:
    settings = away_settings(tmp_path)
    first = ModerationService.from_settings(settings)
    await first.start()
    messages = [Message(text="kys", user_id="u", channel_id="c", id=f"s-{i}") for i in range(3)]
    answers = [(await first.moderate(m)).response for m in messages]
    await first.close()  # the database is still away: the decisions stay in the file
    assert (tmp_path / "spool.sqlite3").exists()

    (tmp_path / "later").mkdir()
    second = ModerationService.from_settings(settings)
    await second.start()
    try:
        assert second.store is not None
        store = second.store

        async def stored() -> bool:
            return await store.count() == 3

        await wait_for(stored)
        for message, answer in zip(messages, answers, strict=True):
            outcome = await second.moderate(message)
            assert outcome.replayed and outcome.response == answer
    finally:
        await second.close()
    assert not (tmp_path / "spool.sqlite3").exists()  # emptied, and removed
    ledger = await read_ledger(settings.database_url)
    ledger.check_exactly_once()
    assert [ledger.strikes[m.id] for m in messages] == [1, 1, 1]


async def test_a_retry_while_the_database_is_away_gets_the_answer_stored_before(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'chatguard.db'}",
        spool_path=str(tmp_path / "spool.sqlite3"),
        pipeline_stages="rules",
        _env_file=None,
    )
    service = ModerationService.from_settings(settings)
    await service.start()
    try:
        assert service.keeper is not None
        first = await service.moderate(
            Message(text="kys", user_id="u1", channel_id="lobby", id="m-1")
        )
        assert not first.replayed and first.response["action"] != "allow"
        service.keeper.failed("read")  # the database stops answering
        again = await service.moderate(
            Message(text="kys", user_id="u1", channel_id="lobby", id="m-1")
        )
        assert again.replayed and again.response == first.response
        fresh = await service.moderate(
            Message(text="kys", user_id="u1", channel_id="lobby", id="m-2")
        )
        assert not fresh.replayed  # a new message is decided (offline), as before
    finally:
        await service.close()
