"""Calls between roles over Redis Streams (ROLE_TRANSPORT=redis): the api role's filter and
decision calls travel as work items on the callee's stream and are answered on the caller's
reply topic; a full ingest stream is a 429 with Retry-After; a call whose caller gave up is
not served; a dead consumer's call is claimed and served. On the shared Redis, under a key
prefix of the test's own."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis

from chatguard.api import create_app
from chatguard.api.roles import create_role_app
from chatguard.domain import Message
from chatguard.events.model import RoleCallAnswered, RoleCallRequested
from chatguard.normalize import normalize
from chatguard.pipeline.stage import StageInput
from chatguard.roles.streams import CALL_STREAMS, StreamCallServer, call_bus
from chatguard.roles.wire import input_to_wire
from tests.conftest import REDIS_URL, LiveServer, free_port
from tests.roles.conftest import SettingsFactory, in_process

pytestmark = [pytest.mark.redis]


def _metric(text: str, name: str, **labels: str) -> float:
    want = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and all(w in line for w in want)
    )


async def test_the_api_role_calls_the_filter_and_decision_roles_over_streams(
    role_settings: SettingsFactory, redis_prefix: str
) -> None:
    streams = {
        "role_transport": "redis",
        "redis_url": REDIS_URL,
        "event_stream_prefix": redis_prefix,
    }
    filter_app = create_role_app("filter", role_settings(pipeline_stages="filter", **streams))
    decision_app = create_role_app("decision", role_settings(**streams))
    with (
        LiveServer(filter_app, free_port()) as filter_role,
        LiveServer(decision_app, free_port()) as decision_role,
    ):
        api = create_app(
            role_settings(
                pipeline_stages="filter,classifier",
                filter_endpoint=filter_role.url,
                decision_endpoint=decision_role.url,
                **streams,
            )
        )
        async with in_process(api) as client:
            body = {"message": "kys you idiot", "user_id": "u1", "channel_id": "general"}
            answer = (await client.post("/moderate", json=body)).json()
            metrics = (await client.get("/metrics")).text
            health = (await client.get("/health")).json()
    assert answer["action"] not in ("allow", "flag") and "strike 1" in answer["reason"]
    # The start's warm-up is a filter call too.
    filter_calls = _metric(
        metrics, "chatguard_role_calls_total", target="filter role", outcome="ok"
    )
    assert filter_calls >= 1 and filter_app.state.call_server.served == filter_calls
    assert _metric(metrics, "chatguard_role_calls_total", target="decision role", outcome="ok") == 1
    assert decision_app.state.call_server.served == 1
    assert health["components"]["filter"]["ok"] is True
    # Served entries leave the work streams: their length is the backlog.
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert client.xlen(f"{redis_prefix}{CALL_STREAMS['filter']}") == 0
        assert client.xlen(f"{redis_prefix}{CALL_STREAMS['decision']}") == 0
    finally:
        client.close()


async def test_a_full_ingest_stream_is_answered_429(
    role_settings: SettingsFactory, redis_prefix: str
) -> None:
    # No filter role reads the stream: each call waits there until its caller gives up. The
    # stream holds two: the start's warm-up and the first message.
    api = create_app(
        role_settings(
            pipeline_stages="filter,classifier",
            filter_endpoint=f"http://127.0.0.1:{free_port()}",
            role_transport="redis",
            redis_url=REDIS_URL,
            event_stream_prefix=redis_prefix,
            role_queue_maxlen=2,
            request_timeout=0.5,
        )
    )
    body = {"message": "good game", "user_id": "u1", "channel_id": "general"}
    async with in_process(api) as client:
        first = await client.post("/moderate", json={**body, "message_id": "a"})
        second = await client.post("/moderate", json={**body, "message_id": "b"})
        retried = await client.post("/moderate", json={**body, "message_id": "b"})
        stats = (await client.get("/metrics")).text
    # The first is moderated without the filter (it did not answer in time)...
    assert first.status_code == 200 and first.json()["action"] == "allow"
    # ...the next finds the stream over its bound: refused, nothing stored, come back later.
    assert second.status_code == 429, second.text
    assert second.json()["error"]["type"] == "backpressure"
    assert int(second.headers["retry-after"]) >= 1
    assert retried.status_code == 429
    assert (
        _metric(stats, "chatguard_role_calls_total", target="filter role", outcome="refused") == 2
    )


async def test_expired_calls_are_dropped_and_a_dead_consumers_calls_are_claimed(
    role_settings: SettingsFactory, redis_prefix: str
) -> None:
    settings = role_settings(
        pipeline_stages="filter",
        role_transport="redis",
        redis_url=REDIS_URL,
        event_stream_prefix=redis_prefix,
        role_claim_idle_s=0.5,
    )
    app = create_role_app("filter", settings.model_copy(update={"role_transport": "http"}))
    bus = call_bus(settings)
    stream = CALL_STREAMS["filter"]
    message = Message(text="kys", user_id="u", channel_id="c", id="m1")
    item = {"stage": "filter", "items": [input_to_wire(StageInput(message, normalize("kys")))]}
    replies = bus.subscribe("replies.test")
    got: list[RoleCallAnswered] = []

    async def collect() -> None:
        async for event in replies:
            if isinstance(event, RoleCallAnswered):
                got.append(event)

    def call(call_id: str, expires_in: float) -> RoleCallRequested:
        return RoleCallRequested(
            call_id=call_id,
            path="/filter",
            body=item,
            reply_to="replies.test",
            expires_at=time.time() + expires_in,
        )

    reader = asyncio.create_task(collect())
    async with app.router.lifespan_context(app):
        await bus.publish(stream, call("waits", 30.0))
        # A consumer that takes the call and dies before answering it.
        await bus.ensure_group(stream, "filter")
        await bus._redis.xreadgroup("filter", "dead-consumer", {bus.key(stream): ">"}, count=1)
        await bus.publish(stream, call("gone", -1.0))  # its caller no longer waits
        server = StreamCallServer(role="filter", bus=bus, app=app, consumers=1)
        await server.start()
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.1)
        await server.close()
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    await bus.close()
    assert [a.call_id for a in got] == ["waits"]
    assert got[0].status == 200 and len(got[0].body["results"]) == 1
    assert server.expired == 1 and server.served == 1
