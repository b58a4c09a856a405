"""Every event type survives its JSON form; what cannot be read is refused by name."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatguard.decisions.records import ReviewStatus
from chatguard.errors import EventFormatError, UnknownEventTypeError, UnsupportedEventVersionError
from chatguard.events import DecisionMade, EventBase, decode, encode
from chatguard.events.model import EVENT_CLASSES, ReviewStatusName, type_of
from tests.events.strategies import EVENTS

ROUND_TRIPS = settings(max_examples=60, deadline=None)


def test_there_is_a_strategy_for_every_event_type() -> None:
    assert set(EVENTS) == {type_of(cls) for cls in EVENT_CLASSES}


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_every_event_type_round_trips_through_json(kind: str) -> None:
    @ROUND_TRIPS
    @given(EVENTS[kind])
    def check(event: EventBase) -> None:
        text = encode(event)
        data = json.loads(text)
        assert (data["type"], data["version"]) == (kind, 1)
        assert list(data)[:4] == ["type", "version", "event_id", "occurred_at"]
        again = decode(text)
        assert again == event and type(again) is type(event)
        assert decode(data) == event  # parsed JSON reads the same

    check()


def _decision() -> dict[str, object]:
    event = DecisionMade(message_id="m1", channel_id="c", user_id="u", action="delete")
    return json.loads(encode(event))


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        pytest.param({"type": "decision.unknown"}, UnknownEventTypeError, "unknown", id="type"),
        pytest.param({"type": None}, UnknownEventTypeError, "without a type", id="no-type"),
        pytest.param({"version": 2}, UnsupportedEventVersionError, "version 1", id="version"),
        pytest.param({"version": True}, UnsupportedEventVersionError, "version", id="bool"),
        pytest.param({"action": "obliterate"}, EventFormatError, "action", id="field"),
    ],
)
def test_unreadable_events_raise_named_errors(
    change: dict[str, object], error: type[Exception], words: str
) -> None:
    data = {**_decision(), **change}
    with pytest.raises(error, match=words):
        decode(json.dumps(data))


def test_a_field_added_by_a_newer_producer_is_ignored() -> None:
    data = _decision()
    assert decode({**data, "added_later": {"x": 1}}) == decode(data)


def test_errors_do_not_echo_the_values() -> None:
    data = {**_decision(), "action": "secret-value-123"}
    with pytest.raises(EventFormatError) as caught:
        decode(data)
    assert "secret-value-123" not in str(caught.value)


@given(st.binary(max_size=40) | st.text(max_size=40))
def test_garbage_is_an_event_format_error(raw: bytes | str) -> None:
    with pytest.raises(EventFormatError):
        decode(raw)


def test_review_status_names_are_the_review_queues() -> None:
    assert set(ReviewStatusName.__args__) == {s.value for s in ReviewStatus}  # type: ignore[attr-defined]
