"""Work streams behave the same in process and on Redis Streams: each entry goes to one
consumer of a group, is acknowledged only after its handler succeeded, is delivered again
after a failure, goes to the dead letters after too many deliveries, and a stream over its
bound refuses new work."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chatguard.errors import BackpressureError
from chatguard.events import INGEST_STREAM, EventBus, InProcessEventBus
from tests.events.conftest import RedisBusFactory, collector, decision, fail

BusFactory = Callable[..., EventBus]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def make_bus(request: pytest.FixtureRequest) -> BusFactory:
    if request.param == "memory":
        return lambda **options: InProcessEventBus(**options)
    factory: RedisBusFactory = request.getfixturevalue("redis_bus")
    return factory


async def test_each_entry_goes_to_one_consumer_of_the_group(make_bus: BusFactory) -> None:
    bus = make_bus()
    for n in range(6):
        await bus.publish(INGEST_STREAM, decision(n))
    first, handle_first = collector()
    second, handle_second = collector()
    one = await bus.consume(INGEST_STREAM, group="g", consumer="a", handler=handle_first, count=4)
    two = await bus.consume(INGEST_STREAM, group="g", consumer="b", handler=handle_second, count=4)
    assert (one.completed, two.completed) == (4, 2)
    ids = [e.message_id for e in first + second]
    assert sorted(ids) == [f"m{n}" for n in range(6)]
    assert bus.counters.completed[INGEST_STREAM] == 6


async def test_a_failed_entry_is_delivered_again_then_acknowledged(make_bus: BusFactory) -> None:
    bus = make_bus(claim_idle_s=0)
    await bus.publish(INGEST_STREAM, decision(1))
    failed = await bus.consume(INGEST_STREAM, group="g", consumer="a", handler=fail)
    assert (failed.failed, failed.completed) == (1, 0)
    seen, handle = collector()
    again = await bus.consume(INGEST_STREAM, group="g", consumer="a", handler=handle)
    assert (again.retried, again.completed) == (1, 1)
    assert [e.message_id for e in seen] == ["m1"]
    nothing = await bus.consume(
        INGEST_STREAM, group="g", consumer="a", handler=handle, block_s=0.01
    )
    assert nothing.handled == 0 and len(seen) == 1


async def test_an_entry_goes_to_the_dead_letters_after_n_deliveries(make_bus: BusFactory) -> None:
    bus = make_bus(claim_idle_s=0, max_deliveries=3)
    event = decision(7)
    await bus.publish(INGEST_STREAM, event)
    rounds = [
        await bus.consume(INGEST_STREAM, group="g", consumer="a", handler=fail) for _ in range(4)
    ]
    assert [r.failed for r in rounds] == [1, 1, 1, 0]
    assert rounds[-1].dead_lettered == 1
    [letter] = await bus.dead_letters(INGEST_STREAM)
    assert letter.deliveries == 3 and letter.event == event
    counters = bus.counters
    assert (counters.failed[INGEST_STREAM], counters.retried[INGEST_STREAM]) == (3, 2)
    assert counters.dead_lettered[INGEST_STREAM] == 1
    # Given up on: not delivered again, and no longer part of the backlog.
    seen, handle = collector()
    await bus.consume(INGEST_STREAM, group="g", consumer="a", handler=handle, block_s=0.01)
    assert seen == []


async def test_a_stream_over_its_bound_refuses_work_until_it_drains(make_bus: BusFactory) -> None:
    bus = make_bus(maxlen=3, retry_after_s=2)
    for n in range(3):
        await bus.publish(INGEST_STREAM, decision(n))
    with pytest.raises(BackpressureError) as refused:
        await bus.publish(INGEST_STREAM, decision(3))
    assert refused.value.retry_after_s == 2
    assert bus.counters.refused[INGEST_STREAM] == 1
    _, handle = collector()
    await bus.consume(INGEST_STREAM, group="g", consumer="a", handler=handle, count=1)
    await bus.publish(INGEST_STREAM, decision(4))  # room again once one entry is done


async def test_topics_are_not_work_streams(make_bus: BusFactory) -> None:
    bus = make_bus(maxlen=10)
    for n in range(30):
        await bus.publish("decisions", decision(n))  # trimmed, never refused
    assert bus.counters.published["decisions"] == 30


async def test_many_events_at_once(make_bus: BusFactory) -> None:
    bus = make_bus(maxlen=3)
    await bus.publish_many("decisions", [decision(n) for n in range(5)])
    assert bus.counters.published["decisions"] == 5
    with pytest.raises(BackpressureError):
        await bus.publish_many(INGEST_STREAM, [decision(n) for n in range(5)])
    seen, handle = collector()
    await bus.consume(INGEST_STREAM, group="g", consumer="a", handler=handle, count=10)
    assert [e.message_id for e in seen] == ["m0", "m1", "m2"]  # the ones before the refusal
