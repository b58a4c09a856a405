"""The webhook outbox's rows and the review events they carry (pure functions, no I/O).

A delivery row is written in the same transaction as the decision it reports; the sender
(`webhooks.WebhookSender`) drains pending rows. Rows are unique on (message id, URL, event
type), so a decision's event reaches each endpoint's outbox once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from chatguard.decisions.records import Delivery, ReviewItem
from chatguard.domain import Action

PENDING = "pending"


def deliveries_for(
    event: Mapping[str, Any], urls: Iterable[str], now: float
) -> tuple[Delivery, ...]:
    """One pending delivery of `event` per URL."""
    body = json.dumps(event, separators=(",", ":"), sort_keys=True)
    message_id = event.get("message_id")
    return tuple(
        Delivery(
            id=uuid.uuid4().hex,
            url=url,
            event_type=str(event.get("type", "event")),
            body=body,
            status=PENDING,
            attempts=0,
            last_error=None,
            created_at=now,
            updated_at=now,
            message_id=str(message_id) if message_id is not None else None,
        )
        for url in urls
    )


def forwarded(event: Mapping[str, Any]) -> bool:
    """Which events platforms hear about: actions, not every clean message."""
    return not (event.get("type") == "decision" and event.get("action") == Action.ALLOW.value)


def review_event(
    kind: str, item: ReviewItem, *, action: str, duration_s: int | None, at: float
) -> dict[str, Any]:
    """A review queue event (held, superseded, resolved): ids and the outcome, no text."""
    return {
        "type": kind,
        "review_id": item.id,
        "message_id": item.message_id,
        "channel_id": item.channel_id,
        "user_id": item.user_id,
        "status": item.status.value,
        "action": action,
        "duration_s": duration_s,
        "resolved_by": item.resolved_by,
        "priority": item.priority,
        "at": at,
    }
