"""A work stream over its bound is the caller's cue to slow down: the HTTP adapter answers
429 with Retry-After, in the project's error shape."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from chatguard.api.errors import install_error_handlers, status_of
from chatguard.domain import Message
from chatguard.errors import BackpressureError
from chatguard.events import INGEST_STREAM, MessageReceived
from tests.events.conftest import RedisBusFactory


def test_backpressure_maps_to_429() -> None:
    assert status_of(BackpressureError("full", retry_after_s=3)) == (429, "backpressure")


@pytest.mark.redis
async def test_a_full_ingest_stream_answers_429_with_retry_after(
    redis_bus: RedisBusFactory,
) -> None:
    bus = redis_bus(maxlen=2, retry_after_s=3)
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/ingest", status_code=202)
    async def ingest(body: dict[str, str]) -> dict[str, str]:
        message = Message(text=body["message"], user_id="u", channel_id="c")
        await bus.publish(INGEST_STREAM, MessageReceived(message=message))
        return {"message_id": message.id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://chatguard") as client:
        accepted = [await client.post("/ingest", json={"message": "hi"}) for _ in range(2)]
        assert [r.status_code for r in accepted] == [202, 202]
        refused = await client.post("/ingest", json={"message": "private words"})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "3"
    error = refused.json()["error"]
    assert error["type"] == "backpressure" and "ingest" in error["message"]
    assert "private words" not in refused.text
    assert await bus.length(INGEST_STREAM) == 2  # nothing accepted was lost, nothing extra queued
