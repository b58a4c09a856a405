"""Plain-data views of domain objects, shared by the API, the store and the event bus."""

from __future__ import annotations

from typing import Any

from chatguard.domain import Action, Assessment, Decision, Message, PolicyReason, Span, StageTrace
from chatguard.taxonomy import ALL_CATEGORIES, OPENAI_CATEGORIES, Category


def span_dict(span: Span) -> dict[str, Any]:
    return {
        "start": span.start,
        "end": span.end,
        "category": span.category.value,
        "label": span.label,
        "score": round(span.score, 4),
    }


def trace_dict(trace: StageTrace) -> dict[str, Any]:
    return {
        "stage": trace.stage,
        "latency_ms": round(trace.latency_ms, 3),
        "route": trace.route.value,
        "top_category": trace.top_category.value if trace.top_category else None,
        "top_score": round(trace.top_score, 4),
        "error": trace.error,
    }


#: Every category with its name, in the answer's order (the names are looked up once).
_NAMED = tuple((c, c.value) for c in ALL_CATEGORIES)


def assessment_dict(assessment: Assessment) -> dict[str, Any]:
    flagged = set(assessment.flagged_categories())
    scores = assessment.scores
    return {
        "flagged": not flagged.isdisjoint(OPENAI_CATEGORIES),  # `Assessment.flagged`, once
        "route": assessment.route.value,
        "decided_by": assessment.decided_by,
        "escalated": assessment.escalated,
        "categories": {name: c in flagged for c, name in _NAMED},
        "category_scores": {name: round(float(scores.get(c, 0.0)), 6) for c, name in _NAMED},
        "spans": [span_dict(s) for s in assessment.spans],
        "reasons": list(assessment.reasons),
        "trail": [trace_dict(t) for t in assessment.trail],
        "latency_ms": {k: round(v, 3) for k, v in assessment.latency_ms.items()},
        "pending": list(assessment.pending),
        "review": assessment.review,
    }


def decision_dict(decision: Decision) -> dict[str, Any]:
    """The decision as the API returns it (and the store keeps it, for idempotent replays)."""
    assessment = assessment_dict(decision.assessment)
    return {
        "message_id": decision.message_id,
        "action": decision.action.value,
        "approved": not decision.action.removes_message,
        # Whether the policy did anything, and why in a word: `flagged` keeps OpenAI's
        # meaning (any of its 13 categories) and is false on a spam, PII or injection action.
        "acted": decision.acted,
        "policy_reason": decision.policy_reason.value,
        "policy_category": decision.policy_category.value if decision.policy_category else None,
        "reason": decision.reason,
        "duration_s": decision.duration_s,
        "provisional": decision.provisional,
        "policy": decision.policy,
        "flagged": assessment["flagged"],
        "categories": assessment["categories"],
        "category_scores": assessment["category_scores"],
        "decided_by": assessment["decided_by"],
        "route": assessment["route"],
        "escalated": assessment["escalated"],
        "pending": assessment["pending"],
        "reasons": [decision.reason, *assessment["reasons"]],
        "spans": assessment["spans"],
        "trail": assessment["trail"],
        "stage_latency_ms": assessment["latency_ms"],
        "processing_time_ms": round(decision.processing_time_ms, 3),
        "redacted_text": decision.redacted_text,
        "notice": decision.notice,
    }


def decision_from_dict(message: Message, assessment: Assessment, data: dict[str, Any]) -> Decision:
    """A decision from its `decision_dict` form (another role's answer, a spooled one), on
    the caller's own assessment (which keeps the trail and the thresholds the form does not
    carry). Raises KeyError, TypeError or ValueError on a form that is not one."""
    duration = data.get("duration_s")
    fields: dict[str, Any] = {}
    if data.get("policy_reason") is not None:
        fields["policy_reason"] = PolicyReason(data["policy_reason"])
    if data.get("policy_category") is not None:
        fields["policy_category"] = Category(data["policy_category"])
    if data.get("notice"):
        fields["notice"] = str(data["notice"])
    return Decision(
        message_id=message.id,
        action=Action(data["action"]),
        reason=str(data.get("reason", "")),
        assessment=assessment,
        duration_s=None if duration is None else int(duration),
        provisional=bool(data.get("provisional", False)),
        policy=str(data.get("policy", "default")),
        trail=tuple(f"{t.stage}:{t.route.value}" for t in assessment.trail),
        **fields,
    )
