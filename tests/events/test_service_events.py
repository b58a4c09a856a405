"""The service publishes typed events through the configured bus; slow subscribers never hold
moderation up and are counted in `/metrics`."""

from __future__ import annotations

import asyncio

import pytest
from redis import asyncio as aioredis

from chatguard.config import Settings, load_settings
from chatguard.domain import Message
from chatguard.errors import ConfigurationError
from chatguard.events import (
    ASSESSMENTS_TOPIC,
    DECISIONS_TOPIC,
    DecisionMade,
    InProcessEventBus,
    MessageAssessed,
    decode,
)
from chatguard.events.redis_streams import RedisStreamsEventBus
from chatguard.service import ModerationService
from tests.conftest import REDIS_URL


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The rule stage alone: fixed scores, so the events follow from the policy.
    return settings.model_copy(update={"pipeline_stages": "rules"})


async def test_a_decision_and_its_assessment_are_published_as_typed_events(
    settings: Settings,
) -> None:
    service = ModerationService.from_settings(settings)
    assert isinstance(service.events, InProcessEventBus)
    await service.start()
    try:
        decisions = service.events.subscribe(DECISIONS_TOPIC)
        assessments = service.events.subscribe(ASSESSMENTS_TOPIC)
        pending = [asyncio.ensure_future(anext(s)) for s in (decisions, assessments)]
        await asyncio.sleep(0)
        message = Message(text="kill yourself", user_id="u1", channel_id="lobby")
        outcome = await service.moderate(message)
        decision, assessment = [await asyncio.wait_for(p, 5) for p in pending]
        assert isinstance(decision, DecisionMade) and isinstance(assessment, MessageAssessed)
        assert decision.message_id == assessment.assessment.message_id == message.id
        assert decision.action.value == outcome.response["action"] != "allow"
        assert not decision.provisional and not decision.supersedes_provisional
        assert assessment.assessment.flagged == outcome.response["flagged"]
        await decisions.aclose()  # type: ignore[attr-defined]
        await assessments.aclose()  # type: ignore[attr-defined]
    finally:
        await service.close()


async def test_events_nobody_listens_to_are_not_made(settings: Settings) -> None:
    service = ModerationService.from_settings(settings)
    await service.start()
    try:
        bus = service.events
        await service.moderate(Message(text="kill yourself", user_id="u1", channel_id="lobby"))
        assert not bus.listened(ASSESSMENTS_TOPIC) and not bus.listened(DECISIONS_TOPIC)
        assert bus.counters.published[ASSESSMENTS_TOPIC] == 0
        assert bus.counters.published[DECISIONS_TOPIC] == 0
        listeners = [bus.subscribe(t) for t in (DECISIONS_TOPIC, ASSESSMENTS_TOPIC)]
        firsts = [asyncio.ensure_future(anext(s)) for s in listeners]
        await asyncio.sleep(0)
        await service.moderate(Message(text="kill yourself", user_id="u2", channel_id="lobby"))
        decision, assessment = [await asyncio.wait_for(f, 5) for f in firsts]
        assert (
            isinstance(decision, DecisionMade)
            and decision.message_id == assessment.assessment.message_id
        )
        assert bus.counters.published[ASSESSMENTS_TOPIC] == 1
        assert bus.counters.published[DECISIONS_TOPIC] == 1
        for listener in listeners:
            await listener.aclose()  # type: ignore[attr-defined]
        assert not bus.listened(ASSESSMENTS_TOPIC)
    finally:
        await service.close()


async def test_a_slow_subscriber_never_blocks_moderation_and_is_counted(
    settings: Settings,
) -> None:
    service = ModerationService(
        settings=settings,
        pipeline=ModerationService.from_settings(settings, with_store=False).pipeline,
        events=InProcessEventBus(queue_size=2),
    )
    await service.start()
    try:
        stuck = service.events.subscribe(DECISIONS_TOPIC)
        first = asyncio.ensure_future(anext(stuck))
        await asyncio.sleep(0)
        for n in range(6):  # nobody reads: moderation goes on regardless
            message = Message(text=f"hello {n}", user_id="u", channel_id="c", id=f"m{n}")
            assert (await service.moderate(message)).response["action"] == "allow"
        # The queue holds two; the subscriber took at most the first before it stopped.
        dropped = 6 - 2 - (1 if first.done() else 0)
        metrics = service.metrics.render().decode()
        assert 'chatguard_events_published_total{bus="memory",topic="decisions"} 6.0' in metrics
        assert (
            f'chatguard_events_dropped_total{{bus="memory",topic="decisions"}} {dropped}.0'
            in metrics
        )
        first.cancel()
    finally:
        await service.close()


def test_a_redis_bus_needs_redis_url() -> None:
    with pytest.raises(ConfigurationError, match="EVENT_BUS"):
        load_settings(event_bus="redis", _env_file=None)


@pytest.mark.redis
async def test_with_event_bus_redis_decisions_reach_the_stream(
    settings: Settings, stream_prefix: str, redis_client: aioredis.Redis
) -> None:
    configured = settings.model_copy(
        update={"event_bus": "redis", "redis_url": REDIS_URL, "event_stream_prefix": stream_prefix}
    )
    service = ModerationService.from_settings(configured)
    assert isinstance(service.events, RedisStreamsEventBus)
    await service.start()
    try:
        message = Message(text="kill yourself", user_id="u1", channel_id="lobby")
        await service.moderate(message)
    finally:
        await service.close()
    entries = await redis_client.xrange(f"{stream_prefix}{DECISIONS_TOPIC}")
    events = [decode(fields["event"]) for _, fields in entries]
    made = [e for e in events if isinstance(e, DecisionMade)]
    assert [e.message_id for e in made] == [message.id]
    assert "kill" not in str(entries)  # the decisions stream carries no message text
