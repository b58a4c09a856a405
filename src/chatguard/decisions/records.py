"""Plain records the decision handler reads and writes (frozen; free of storage types)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"  # a provisional hold replaced by the adjudicator's final decision


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    channel_id: str
    version: int
    document: dict[str, Any] | None
    actor: str
    reason: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Strike:
    channel_id: str
    user_id: str
    message_id: str
    at: float
    action: str
    rung: str
    reason: str
    source: str  # "auto" or "review"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    id: str
    message_id: str
    channel_id: str
    user_id: str
    text: str
    reason: str
    scores: dict[str, float]
    policy: str
    status: ReviewStatus
    default_action: str
    default_duration_s: int | None
    created_at: float
    expires_at: float
    resolved_at: float | None = None
    resolved_by: str | None = None
    outcome: str | None = None
    outcome_duration_s: int | None = None
    note: str | None = None
    #: Higher first in the queue: 0 for an ordinary hold, `CRISIS_PRIORITY` for a crisis.
    priority: int = 0


#: The review priority of a self-harm disclosure: ahead of every ordinary hold.
CRISIS_PRIORITY = 100


@dataclass(frozen=True, slots=True)
class Label:
    review_id: str
    message_id: str
    channel_id: str
    text: str
    label: str  # "violation" or "acceptable"
    categories: list[str]
    source: str  # "moderator" or "timeout"
    actor: str
    created_at: float


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: float
    actor: str
    actor_kind: str  # "system" or "human"
    action: str
    channel_id: str | None = None
    user_id: str | None = None
    message_id: str | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    #: Unique per system entry about a message ("decision:<id>", "final:<id>"); None for
    #: human actions. A repeated decision cannot add a second entry.
    effect_key: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    url: str
    event_type: str
    body: str
    status: str  # "pending", "delivered" or "dead"
    attempts: int
    last_error: str | None
    created_at: float
    updated_at: float
    #: The message the event is about; with the URL and event type, the row's unique key.
    message_id: str | None = None


def as_dict(record: Any) -> dict[str, Any]:
    data = asdict(record)
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    return data
