"""A consumer loop works until it is told to stop, and waits out a Redis that is away."""

from __future__ import annotations

import asyncio

from chatguard.events import INGEST_STREAM, EventBase, InProcessEventBus
from chatguard.events.redis_streams import RedisStreamsEventBus
from chatguard.events.worker import run_consumer
from tests.conftest import free_port
from tests.events.conftest import decision


async def test_the_loop_handles_work_until_stopped() -> None:
    bus = InProcessEventBus()
    stop = asyncio.Event()
    seen: list[str] = []

    async def handle(event: EventBase) -> None:
        seen.append(event.message_id)  # type: ignore[attr-defined]
        if len(seen) == 3:
            stop.set()

    for n in range(3):
        await bus.publish(INGEST_STREAM, decision(n))
    total = await asyncio.wait_for(
        run_consumer(
            bus, INGEST_STREAM, group="g", consumer="a", handler=handle, stop=stop, block_s=0.05
        ),
        10,
    )
    assert seen == ["m0", "m1", "m2"] and total.completed == 3


async def test_the_loop_waits_out_an_unreachable_redis() -> None:
    bus = RedisStreamsEventBus.from_url(f"redis://127.0.0.1:{free_port()}/0", prefix="x:")
    stop = asyncio.Event()

    async def handle(_: EventBase) -> None:
        raise AssertionError("nothing to handle")

    loop = asyncio.ensure_future(
        run_consumer(
            bus, INGEST_STREAM, group="g", consumer="a", handler=handle, stop=stop, retry_s=0.05
        )
    )
    await asyncio.sleep(0.2)
    assert not loop.done()  # still trying, not crashed
    stop.set()
    total = await asyncio.wait_for(loop, 5)
    assert total.handled == 0
    await bus.close()
