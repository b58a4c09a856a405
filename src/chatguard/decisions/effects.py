"""A decision's side effects as plain records, computed before anything is written.

The policy engine plans them (`PolicyEngine.plan`); the store writes them in the transaction
that stores the decision, so they happen exactly when the decision is stored, and a retry, a
crash or a lost race can repeat the work but never the effect. Each record carries the key its
table is unique on (strikes: message id and source; system audit entries: `effect_key`; review
items: message id; webhook deliveries: message id, URL and event type).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from chatguard.decisions.records import AuditEntry, Delivery, ReviewItem, ReviewStatus, Strike
from chatguard.domain import Decision

#: `effect_key` prefixes of the system audit entries, one of each per message.
DECISION_KEY, FINAL_KEY, SUPERSEDED_KEY = "decision", "final", "superseded"


def effect_key(kind: str, message_id: str) -> str:
    """The unique key of a system audit entry about `message_id`."""
    return f"{kind}:{message_id}"


@dataclass(frozen=True, slots=True)
class Supersession:
    """Take the message's pending review item (a provisional hold) out of the queue because
    the final decision does something else; nothing happens if a moderator was faster."""

    message_id: str
    outcome: str
    note: str
    at: float


@dataclass(frozen=True, slots=True)
class Effects:
    """Everything a decision does besides being stored."""

    strike: Strike | None = None
    audit: tuple[AuditEntry, ...] = ()
    review: ReviewItem | None = None
    supersede: Supersession | None = None
    deliveries: tuple[Delivery, ...] = ()
    #: Where the deliveries of events made while writing (a supersession) go.
    webhook_urls: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing to write (a clean message's decision)."""
        return not (self.strike or self.audit or self.review or self.supersede or self.deliveries)

    def with_deliveries(self, deliveries: tuple[Delivery, ...]) -> Effects:
        return replace(self, deliveries=self.deliveries + deliveries)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (the spool keeps effects of decisions not yet stored)."""
        return {
            "strike": asdict(self.strike) if self.strike else None,
            "audit": [asdict(a) for a in self.audit],
            "review": asdict(self.review) if self.review else None,
            "supersede": asdict(self.supersede) if self.supersede else None,
            "deliveries": [asdict(d) for d in self.deliveries],
            "webhook_urls": list(self.webhook_urls),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Effects:
        review = data.get("review")
        return cls(
            strike=Strike(**data["strike"]) if data.get("strike") else None,
            audit=tuple(AuditEntry(**a) for a in data.get("audit", ())),
            review=(
                ReviewItem(**{**review, "status": ReviewStatus(review["status"])})
                if review
                else None
            ),
            supersede=Supersession(**data["supersede"]) if data.get("supersede") else None,
            deliveries=tuple(Delivery(**d) for d in data.get("deliveries", ())),
            webhook_urls=tuple(data.get("webhook_urls", ())),
        )


NO_EFFECTS = Effects()


@dataclass(frozen=True, slots=True)
class Planned:
    """A decision and the effects to store with it."""

    decision: Decision
    effects: Effects


@dataclass(frozen=True, slots=True)
class Applied:
    """What writing effects did: the review events it made (a hold, a supersession), to be
    published once the transaction has committed, and the deliveries it added to the outbox
    (only those may be sent: a delivery already there is the sender's already)."""

    events: tuple[dict[str, Any], ...] = ()
    deliveries: tuple[Delivery, ...] = ()
    held: bool = False
    superseded: bool = False
    #: Nothing was written yet: the decision went to the spool, to be written later.
    spooled: bool = False
    #: Nothing was written: another decision about the message was recorded first (its
    #: audit entry holds the effect key), and that one stands.
    taken: bool = False
