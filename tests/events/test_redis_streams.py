"""Redis Streams specifics, on the shared Redis under a prefix of their own: a consumer
process that dies without acknowledging loses its entries to another consumer (XAUTOCLAIM),
topics stay within MAXLEN, subscribers fan out and a slow one is counted, and a Redis that is
away costs events, not moderation."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest
from redis import asyncio as aioredis

from chatguard.errors import EventBusUnavailableError
from chatguard.events import DECISIONS_TOPIC, INGEST_STREAM, DecisionMade
from chatguard.events.redis_streams import RedisStreamsEventBus
from tests.conftest import REDIS_URL, free_port
from tests.events.conftest import RedisBusFactory, collector, decision

pytestmark = pytest.mark.redis

#: A consumer process that takes entries and dies (kill -9 style) before acknowledging them.
DYING_CONSUMER = textwrap.dedent(
    """
    import asyncio, os, sys
    from chatguard.events.redis_streams import RedisStreamsEventBus

    async def die(event):
        print(event.message_id, flush=True)
        os._exit(137)

    async def main():
        bus = RedisStreamsEventBus.from_url(sys.argv[1], prefix=sys.argv[2])
        await bus.consume("ingest", group="workers", consumer="doomed", handler=die, count=2)

    asyncio.run(main())
    """
)


async def test_a_dead_consumers_entries_are_reclaimed_by_another(
    redis_bus: RedisBusFactory, redis_client: aioredis.Redis, stream_prefix: str
) -> None:
    bus = redis_bus(claim_idle_s=0.05)
    for n in range(3):
        await bus.publish(INGEST_STREAM, decision(n))
    dead = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", DYING_CONSUMER, REDIS_URL, stream_prefix],
        capture_output=True,
        text=True,
        check=False,
    )
    assert dead.returncode == 137 and dead.stdout.split() == ["m0"]
    key = bus.key(INGEST_STREAM)
    pending = await redis_client.xpending_range(key, "workers", "-", "+", 10)
    assert {p["consumer"] for p in pending} == {"doomed"} and len(pending) == 2

    # A live consumer whose claim idle time has not passed leaves them alone ...
    patient = redis_bus(claim_idle_s=3600)
    seen, handle = collector()
    first = await patient.consume(
        INGEST_STREAM, group="workers", consumer="patient", handler=handle
    )
    assert (first.retried, [e.message_id for e in seen]) == (0, ["m2"])

    # ... one past it takes them over and acknowledges them.
    await asyncio.sleep(0.1)  # let the dead consumer's entries idle past claim_idle_s
    rescued = await bus.consume(INGEST_STREAM, group="workers", consumer="rescuer", handler=handle)
    assert rescued.retried == 2 and rescued.completed == 2
    assert sorted(e.message_id for e in seen) == ["m0", "m1", "m2"]
    assert await redis_client.xpending_range(key, "workers", "-", "+", 10) == []
    assert await redis_client.xlen(key) == 0  # done work leaves the stream


async def test_a_busy_consumer_looks_for_entries_to_claim_now_and_then_not_every_round(
    redis_bus: RedisBusFactory,
) -> None:
    bus = redis_bus(claim_idle_s=0.4)
    looks = 0
    real = bus._redis.xautoclaim

    async def counted(*args: object, **kwargs: object) -> object:
        nonlocal looks
        looks += 1
        return await real(*args, **kwargs)

    bus._redis.xautoclaim = counted  # type: ignore[method-assign]
    for n in range(20):
        await bus.publish(INGEST_STREAM, decision(n))
    seen, handle = collector()
    for _ in range(20):  # one entry a round, as the role call servers read
        await bus.consume(INGEST_STREAM, group="workers", consumer="busy", handler=handle, count=1)
    assert len(seen) == 20
    assert looks == 1
    await asyncio.sleep(0.4 * 0.25 + 0.05)
    await bus.consume(INGEST_STREAM, group="workers", consumer="busy", handler=handle, block_s=0.01)
    assert looks == 2


async def test_every_topic_counts_as_listened_to_on_redis(redis_bus: RedisBusFactory) -> None:
    bus = redis_bus()  # readers in other processes are not known here
    assert bus.listened(DECISIONS_TOPIC) and bus.listened("assessments")


async def test_topics_stay_within_their_maxlen(
    redis_bus: RedisBusFactory, redis_client: aioredis.Redis
) -> None:
    bus = redis_bus(maxlen=50)
    for n in range(600):
        await bus.publish(DECISIONS_TOPIC, decision(n))
    length = await redis_client.xlen(bus.key(DECISIONS_TOPIC))
    # MAXLEN ~ trims whole radix-tree nodes (100 entries by default), never below the bound.
    assert 50 <= length <= 150
    newest = await redis_client.xrevrange(bus.key(DECISIONS_TOPIC), count=1)
    assert DecisionMade.model_validate_json(newest[0][1]["event"]).message_id == "m599"


async def test_subscribers_fan_out_and_a_slow_one_is_counted(redis_bus: RedisBusFactory) -> None:
    publisher = redis_bus()
    fast = redis_bus().subscribe(DECISIONS_TOPIC)
    slow_bus = redis_bus(queue_size=2)
    slow = slow_bus.subscribe(DECISIONS_TOPIC)
    events = [decision(n) for n in range(10)]
    for event in events:
        await publisher.publish(DECISIONS_TOPIC, event)  # never waits for the subscribers
    received = [await asyncio.wait_for(anext(fast), 5) for _ in events]
    assert received == events
    # The slow subscriber's queue holds two events; what it did not take in time is dropped
    # and counted, and it goes on with the newest.
    assert [await anext(slow), await anext(slow)] == events[-2:]
    assert slow_bus.counters.dropped[DECISIONS_TOPIC] == 8
    await fast.aclose()  # type: ignore[attr-defined]
    await slow.aclose()  # type: ignore[attr-defined]


async def test_an_unreachable_redis_costs_events_not_moderation() -> None:
    bus = RedisStreamsEventBus.from_url(f"redis://127.0.0.1:{free_port()}/0", prefix="x:")
    try:
        await bus.publish(DECISIONS_TOPIC, decision())  # returns: the event is lost, counted
        assert bus.counters.lost[DECISIONS_TOPIC] == 1
        with pytest.raises(EventBusUnavailableError):
            await bus.publish(INGEST_STREAM, decision())  # work must not vanish silently
        _, handle = collector()
        with pytest.raises(EventBusUnavailableError):
            await bus.consume(INGEST_STREAM, group="g", consumer="a", handler=handle)
    finally:
        await bus.close()


async def test_a_stream_deleted_under_a_group_is_made_again(
    redis_bus: RedisBusFactory, redis_client: aioredis.Redis
) -> None:
    bus = redis_bus()
    seen, handle = collector()
    await bus.consume(INGEST_STREAM, group="g", consumer="a", handler=handle, block_s=0.01)
    await redis_client.delete(bus.key(INGEST_STREAM))
    await bus.consume(INGEST_STREAM, group="g", consumer="a", handler=handle, block_s=0.01)
    await bus.publish(INGEST_STREAM, decision(5))
    await bus.consume(INGEST_STREAM, group="g", consumer="a", handler=handle, block_s=0.01)
    assert [e.message_id for e in seen] == ["m5"]
