"""The in-process bus fans out to every subscriber; one that does not read loses its oldest
events, counted, and never holds up publishing."""

from __future__ import annotations

import asyncio

from chatguard.events import DECISIONS_TOPIC, INGEST_STREAM, InProcessEventBus
from tests.events.conftest import decision


async def test_every_subscriber_gets_every_event_in_order() -> None:
    bus = InProcessEventBus()
    one, two = bus.subscribe(DECISIONS_TOPIC), bus.subscribe(DECISIONS_TOPIC)
    firsts = [asyncio.ensure_future(anext(s)) for s in (one, two)]
    await asyncio.sleep(0)
    events = [decision(n) for n in range(3)]
    for event in events:
        await bus.publish(DECISIONS_TOPIC, event)
    assert [await f for f in firsts] == [events[0], events[0]]
    assert [await anext(one), await anext(one)] == events[1:]
    assert [await anext(two), await anext(two)] == events[1:]
    await one.aclose()  # type: ignore[attr-defined]
    await two.aclose()  # type: ignore[attr-defined]
    await bus.publish(DECISIONS_TOPIC, decision(9))  # no subscribers left: nothing waits
    assert bus.counters.published[DECISIONS_TOPIC] == 4 and bus.dropped == 0


async def test_a_subscriber_that_stops_reading_loses_its_oldest_events() -> None:
    bus = InProcessEventBus(queue_size=3)
    stuck = bus.subscribe(DECISIONS_TOPIC)
    first = asyncio.ensure_future(anext(stuck))
    await asyncio.sleep(0)
    events = [decision(n) for n in range(10)]
    for event in events:  # publishing never yields, so the subscriber reads none in between
        await bus.publish(DECISIONS_TOPIC, event)
    assert bus.counters.dropped[DECISIONS_TOPIC] == 7
    # The waiting read got the oldest still queued; then the newest follow.
    assert await first == events[7]
    assert [await anext(stuck), await anext(stuck)] == events[8:]
    await stuck.aclose()  # type: ignore[attr-defined]


async def test_a_topic_is_listened_to_while_someone_reads_it_and_a_work_stream_always() -> None:
    bus = InProcessEventBus()
    assert not bus.listened(DECISIONS_TOPIC)
    assert bus.listened(INGEST_STREAM)  # its consumers may come later: the work waits
    reader = bus.subscribe(DECISIONS_TOPIC)
    first = asyncio.ensure_future(anext(reader))
    await asyncio.sleep(0)
    assert bus.listened(DECISIONS_TOPIC)
    await bus.publish(DECISIONS_TOPIC, decision(1))
    await first
    await reader.aclose()  # type: ignore[attr-defined]
    assert not bus.listened(DECISIONS_TOPIC)
