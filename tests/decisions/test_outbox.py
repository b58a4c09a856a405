"""The webhook outbox: a decision's deliveries are written with the decision, so racing retries
of one message reach the receiver once, and a decision spooled while the database was away is
delivered once it is stored."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatguard.api import create_app
from chatguard.config import load_settings
from tests.conftest import free_port
from tests.decisions.test_webhooks import SECRET, Receiver
from tests.support.effects import read_ledger


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port())
    yield r
    r.down()


def settings_for(url: str, receiver: Receiver, **extra: Any) -> Any:
    return load_settings(
        database_url=url,
        pipeline_stages="rules",
        webhook_urls=receiver.url,
        webhook_secret=SECRET,
        _env_file=None,
        **extra,
    )


async def until(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_racing_retries_are_delivered_once(database_url: str, receiver: Receiver) -> None:
    receiver.up()
    app = create_app(settings_for(database_url, receiver))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cg") as api:
            body = {"message": "kys", "user_id": "u", "channel_id": "c", "message_id": "w-1"}
            answers = await asyncio.gather(*(api.post("/moderate", json=body) for _ in range(8)))
            assert {a.json()["action"] for a in answers} == {"delete"}
            await until(lambda: receiver.accepted)
            await asyncio.sleep(0.3)  # time for a duplicate, were there one
            await app.state.service.decider.webhooks.drain()
    assert [(e["type"], e["message_id"]) for e in receiver.accepted] == [("decision", "w-1")]
    ledger = await read_ledger(database_url)
    assert ledger.deliveries == {("w-1", "decision"): 1}
    ledger.check_exactly_once()


async def test_a_spooled_decision_is_delivered_when_it_is_stored(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.up()
    url = f"sqlite+aiosqlite:///{tmp_path / 'later' / 'chatguard.db'}"
    app = create_app(settings_for(url, receiver, spool_path=str(tmp_path / "spool")))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cg") as api:
            body = {"message": "kys", "user_id": "u", "channel_id": "c", "message_id": "w-2"}
            for _ in range(3):
                assert (await api.post("/moderate", json=body)).status_code == 200
            await asyncio.sleep(0.5)
            assert receiver.accepted == []  # the outbox is in the database, which is away
            (tmp_path / "later").mkdir()
            await until(lambda: receiver.accepted)
            await asyncio.sleep(0.3)
    assert [(e["type"], e["message_id"]) for e in receiver.accepted] == [("decision", "w-2")]
