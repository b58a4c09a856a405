"""The JSON form of stage inputs and results: what one role sends is what the other reads."""

from __future__ import annotations

import json

import pytest

from chatguard.channel import CHANNEL_CONTEXT, ChannelMemory
from chatguard.domain import Action, Message, Role, Span, StageResult
from chatguard.normalize import normalize
from chatguard.pipeline.stage import StageInput
from chatguard.roles.wire import (
    STATELESS_KEY,
    WireFormatError,
    input_to_wire,
    inputs_from_wire,
    result_from_wire,
    result_to_wire,
    results_from_wire,
)
from chatguard.taxonomy import Category

RESULT = StageResult(
    stage="filter",
    scores={Category.PII: 0.9, Category.HARASSMENT_THREATENING: 0.4},
    spans=(Span(3, 9, Category.PII, "EMAIL_ADDRESS", 0.9),),
    reasons=("pii: email address",),
    latency_ms=0.25,
    authoritative=True,
    review=True,
)


def test_a_result_round_trips_through_json() -> None:
    assert result_from_wire(json.loads(json.dumps(result_to_wire(RESULT)))) == RESULT
    failed = StageResult("llm", error="TimeoutError: no answer")
    assert result_from_wire(result_to_wire(failed)) == failed


def test_an_input_round_trips_with_its_message_scores_and_results() -> None:
    message = Message(
        text="ｈｅｌｌｏ a@b.co",
        user_id="u1",
        channel_id="c1",
        id="m1",
        roles=frozenset({Role.VIP, Role.SUBSCRIBER}),
        timestamp=12.5,
        received_at=13.25,
    )
    item = StageInput(
        message, normalize(message.text), {Category.PII: 0.9}, (RESULT,), {STATELESS_KEY: True}
    )
    [back] = inputs_from_wire([json.loads(json.dumps(input_to_wire(item)))])
    assert back.message == message
    assert back.normalized == item.normalized
    assert dict(back.scores) == {Category.PII: 0.9}
    assert back.results == (RESULT,)
    assert back.context == {STATELESS_KEY: True}


def test_the_channel_travels_only_when_asked_for() -> None:
    memory = ChannelMemory()
    for i in range(5):
        memory.record(Message(text=f"line {i}", user_id="u2", channel_id="c1"), Action.ALLOW)
    memory.record(Message(text="bad", user_id="u1", channel_id="c1"), Action.DELETE)
    memory.set_rules("c1", "no spoilers")
    message = Message(text="hi", user_id="u1", channel_id="c1")
    item = StageInput(message, normalize(message.text), context={CHANNEL_CONTEXT: memory})
    assert "channel" not in input_to_wire(item)
    [back] = inputs_from_wire([input_to_wire(item, channel_lines=3)])
    channel = back.context[CHANNEL_CONTEXT]
    assert [m.text for m in channel.recent("c1", limit=10)] == ["line 3", "line 4", "bad"]
    assert channel.strikes("c1", "u1") == 1
    assert channel.strikes("c1", "u2") == 0
    assert channel.rules("c1") == "no spoilers"
    assert channel.recent("other", limit=10) == [] and channel.rules("other") is None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="no-message"),
        pytest.param({"message": {"text": "x"}}, id="message-without-ids"),
        pytest.param(
            {
                "message": {
                    "id": "m",
                    "text": "x",
                    "user_id": "u",
                    "channel_id": "c",
                    "timestamp": 1,
                    "received_at": 1,
                },
                "scores": {"not-a-category": 1.0},
            },
            id="unknown-category",
        ),
    ],
)
def test_a_malformed_input_is_refused_whole(body: dict[str, object]) -> None:
    with pytest.raises(WireFormatError):
        inputs_from_wire([body])


def test_a_malformed_result_is_refused() -> None:
    with pytest.raises(WireFormatError):
        results_from_wire([{"scores": {}}])
