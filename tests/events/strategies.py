"""Hypothesis strategies for the domain objects events carry."""

from __future__ import annotations

from hypothesis import strategies as st

from chatguard.domain import (
    Action,
    Assessment,
    Message,
    Role,
    Route,
    Span,
    StageResult,
    StageTrace,
)
from chatguard.events import (
    ActionEnforced,
    DecisionMade,
    EscalationRequested,
    MessageAssessed,
    MessageReceived,
    ReviewHeld,
    ReviewResolved,
    RoleCallAnswered,
    RoleCallRequested,
)
from chatguard.taxonomy import Category

ids = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=24
)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
categories = st.sampled_from(list(Category))
scores = st.dictionaries(categories, unit, max_size=5)
names = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
small = st.integers(min_value=0, max_value=10_000)
durations = st.none() | st.integers(min_value=1, max_value=10**6)

messages = st.builds(
    Message,
    text=texts,
    user_id=ids,
    channel_id=ids,
    id=ids,
    roles=st.frozensets(st.sampled_from(list(Role))),
    timestamp=times,
    received_at=times,
)
spans = st.builds(Span, start=small, end=small, category=categories, label=texts, score=unit)
traces = st.builds(
    StageTrace,
    stage=names,
    latency_ms=finite,
    route=st.sampled_from(list(Route)),
    top_category=st.none() | categories,
    top_score=unit,
    error=st.none() | texts,
)
stage_results = st.builds(
    StageResult,
    stage=names,
    scores=scores,
    spans=st.tuples(spans) | st.just(()),
    reasons=st.lists(texts, max_size=3).map(tuple),
    latency_ms=finite,
    error=st.none() | texts,
    authoritative=st.booleans(),
    review=st.booleans(),
)
assessments = st.builds(
    Assessment,
    message_id=ids,
    scores=scores,
    route=st.sampled_from(list(Route)),
    decided_by=names,
    spans=st.lists(spans, max_size=3).map(tuple),
    reasons=st.lists(texts, max_size=3).map(tuple),
    trail=st.lists(traces, max_size=3).map(tuple),
    escalated=st.booleans(),
    thresholds=scores,
    pending=st.lists(names, max_size=2).map(tuple),
    llm_unavailable=st.booleans(),
    review=st.booleans(),
)
actions = st.sampled_from(list(Action))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | finite | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(names, json_values, max_size=4)
statuses = st.sampled_from(["pending", "approved", "denied", "expired", "superseded"])
common = {"event_id": st.uuids().map(lambda u: u.hex), "occurred_at": times}

#: One strategy per event type.
EVENTS = {
    "message.received": st.builds(MessageReceived, message=messages, **common),
    "message.assessed": st.builds(
        MessageAssessed, channel_id=ids, user_id=ids, assessment=assessments, **common
    ),
    "escalation.requested": st.builds(
        EscalationRequested,
        message_id=ids,
        channel_id=ids,
        user_id=ids,
        stages=st.lists(names, max_size=3).map(tuple),
        scores=scores,
        **common,
    ),
    "decision.made": st.builds(
        DecisionMade,
        message_id=ids,
        channel_id=ids,
        user_id=ids,
        action=actions,
        duration_s=durations,
        reason=texts,
        policy=names,
        decided_by=names,
        flagged=st.booleans(),
        provisional=st.booleans(),
        supersedes_provisional=st.booleans(),
        **common,
    ),
    "review.held": st.builds(
        ReviewHeld, review_id=ids, message_id=ids, channel_id=ids, user_id=ids, **common
    ),
    "review.resolved": st.builds(
        ReviewResolved,
        review_id=ids,
        message_id=ids,
        channel_id=ids,
        user_id=ids,
        status=statuses,
        action=actions,
        duration_s=durations,
        resolved_by=st.none() | ids,
        **common,
    ),
    "action.enforced": st.builds(
        ActionEnforced,
        message_id=st.none() | ids,
        channel_id=ids,
        user_id=ids,
        action=actions,
        duration_s=durations,
        connector=names,
        ok=st.booleans(),
        error=st.none() | names,
        **common,
    ),
    "role.call": st.builds(
        RoleCallRequested,
        call_id=st.uuids().map(lambda u: u.hex),
        path=st.sampled_from(["/filter", "/adjudicate", "/decide", "/decide/batch"]),
        body=json_objects,
        reply_to=names.map(lambda n: f"replies.{n}"),
        expires_at=times,
        **common,
    ),
    "role.answer": st.builds(
        RoleCallAnswered,
        call_id=st.uuids().map(lambda u: u.hex),
        status=st.integers(min_value=100, max_value=599),
        body=st.none() | json_objects,
        **common,
    ),
}
