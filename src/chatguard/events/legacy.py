"""The client form of decision and review events: the flat JSON objects the moderators'
WebSocket (`/ws/decisions`) and the signed webhooks have carried from the start (`type` of
`decision`, `decision.final`, `review.held`, `review.superseded` or `review.resolved`, the
ids, the action and `at`). Adapters render typed events in this form so their clients keep
working; `from_client_form` reads it back (the review queue still writes it for webhooks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chatguard.errors import UnknownEventTypeError
from chatguard.events.model import DecisionMade, Event, EventBase, ReviewHeld, ReviewResolved

#: Client type names of decisions.
DECISION = "decision"
FINAL_DECISION = "decision.final"
SUPERSEDED = "review.superseded"


def client_form(event: EventBase) -> dict[str, Any]:
    """The event as the WebSocket and webhooks send it. Types with no client form yet (message
    received, assessed, escalation, enforcement) come in their JSON form."""
    if isinstance(event, DecisionMade):
        return {
            "type": FINAL_DECISION if event.supersedes_provisional else DECISION,
            "message_id": event.message_id,
            "channel_id": event.channel_id,
            "user_id": event.user_id,
            "action": event.action.value,
            "duration_s": event.duration_s,
            "reason": event.reason,
            "policy": event.policy,
            "decided_by": event.decided_by,
            "flagged": event.flagged,
            "acted": event.acted,
            "policy_reason": event.policy_reason,
            "policy_category": event.policy_category,
            "notice": event.notice,
            "provisional": event.provisional,
            "at": event.occurred_at,
        }
    if isinstance(event, ReviewHeld | ReviewResolved):
        kind: str = event.type
        if isinstance(event, ReviewResolved) and event.status == "superseded":
            kind = SUPERSEDED
        return {
            "type": kind,
            "review_id": event.review_id,
            "message_id": event.message_id,
            "channel_id": event.channel_id,
            "user_id": event.user_id,
            "status": event.status,
            "action": event.action.value,
            "duration_s": event.duration_s,
            "resolved_by": event.resolved_by,
            "priority": event.priority,
            "at": event.occurred_at,
        }
    return event.model_dump(mode="json")


def from_client_form(data: Mapping[str, Any]) -> Event:
    """The typed event of a decision or review event in its client form."""
    kind = data.get("type")
    if kind in (DECISION, FINAL_DECISION):
        return DecisionMade(
            message_id=data["message_id"],
            channel_id=data["channel_id"],
            user_id=data["user_id"],
            action=data["action"],
            duration_s=data.get("duration_s"),
            reason=data.get("reason", ""),
            policy=data.get("policy", "default"),
            decided_by=data.get("decided_by", ""),
            flagged=bool(data.get("flagged", False)),
            acted=bool(data.get("acted", False)),
            policy_reason=data.get("policy_reason") or "clean",
            policy_category=data.get("policy_category"),
            notice=data.get("notice"),
            provisional=bool(data.get("provisional", False)),
            supersedes_provisional=kind == FINAL_DECISION,
            occurred_at=data["at"],
        )
    if kind in ("review.held", SUPERSEDED, "review.resolved"):
        fields = {
            "review_id": data["review_id"],
            "message_id": data["message_id"],
            "channel_id": data["channel_id"],
            "user_id": data["user_id"],
            "status": data["status"],
            "action": data["action"],
            "duration_s": data.get("duration_s"),
            "resolved_by": data.get("resolved_by"),
            "priority": int(data.get("priority") or 0),
            "occurred_at": data["at"],
        }
        if kind == "review.held":
            return ReviewHeld(**fields)
        return ReviewResolved(**fields)
    raise UnknownEventTypeError("not a decision or review event")
