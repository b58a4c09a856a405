"""The WebSocket and webhooks keep the flat JSON their clients have always read."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from chatguard.errors import UnknownEventTypeError
from chatguard.events import DecisionMade, EventBase, MessageAssessed, ReviewResolved
from chatguard.events.legacy import client_form, from_client_form
from tests.events.strategies import EVENTS

DECISION_KEYS = {
    "type", "message_id", "channel_id", "user_id", "action", "duration_s", "reason", "policy",
    "decided_by", "flagged", "acted", "policy_reason", "policy_category", "notice",
    "provisional", "at",
}  # fmt: skip
REVIEW_KEYS = {
    "type", "review_id", "message_id", "channel_id", "user_id", "status", "action",
    "duration_s", "resolved_by", "priority", "at",
}  # fmt: skip


@pytest.mark.parametrize(
    ("final", "kind"), [pytest.param(False, "decision"), pytest.param(True, "decision.final")]
)
def test_decisions_keep_their_client_type_and_keys(final: bool, kind: str) -> None:
    event = DecisionMade(
        message_id="m", channel_id="c", user_id="u", action="hold", supersedes_provisional=final
    )
    form = client_form(event)
    assert set(form) == DECISION_KEYS
    assert (form["type"], form["action"], form["at"]) == (kind, "hold", event.occurred_at)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("denied", "review.resolved"),
        ("expired", "review.resolved"),
        ("superseded", "review.superseded"),
    ],
)
def test_review_resolutions_keep_their_client_type(status: str, kind: str) -> None:
    event = ReviewResolved(
        review_id="r", message_id="m", channel_id="c", user_id="u", status=status, action="delete"
    )
    form = client_form(event)
    assert set(form) == REVIEW_KEYS and form["type"] == kind


@pytest.mark.parametrize("kind", ["decision.made", "review.held", "review.resolved"])
def test_the_client_form_reads_back_to_the_same_event(kind: str) -> None:
    @settings(max_examples=40, deadline=None)
    @given(EVENTS[kind])
    def check(event: EventBase) -> None:
        form = client_form(event)
        again = from_client_form(form)
        assert client_form(again) == form
        assert again.model_dump(exclude={"event_id"}) == event.model_dump(exclude={"event_id"})

    check()


def test_other_events_have_no_client_form_to_read() -> None:
    with pytest.raises(UnknownEventTypeError):
        from_client_form({"type": "message.assessed"})
    assert MessageAssessed.model_fields["type"].default == "message.assessed"
