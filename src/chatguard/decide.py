"""Turning an assessment into a decision. `Decider` is the interface channel policy plugs into;
`ThresholdDecider` is the built-in default used until a policy engine is configured.

Besides `decide`, a decider offers the service the hooks of a decision that has side effects:
planning them with the decision (so the store writes both in one transaction), learning that
they were written, the webhook deliveries of a decision's event, the channel's deadline for the
adjudicator, and a start and a stop. A decider without side effects inherits them from
`EffectFreeDecider`, so the service calls every decider the same way and never asks which
kind it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry

from chatguard.decisions.effects import NO_EFFECTS, Applied, Planned
from chatguard.decisions.records import Delivery
from chatguard.domain import Action, Assessment, Decision, FailMode, Message, PolicyReason, Route
from chatguard.events.model import DecisionMade
from chatguard.pipeline.stage import ComponentHealth


class Decider(Protocol):
    """What the moderation service asks of whatever turns assessments into decisions."""

    async def decide(self, message: Message, assessment: Assessment) -> Decision:
        """Decide, and write the decision's effects at once (decisions not stored as
        messages)."""
        ...

    async def plan_many(
        self,
        items: Sequence[tuple[Message, Assessment]],
        *,
        final: bool = False,
        offline: bool = False,
    ) -> list[Planned]:
        """Decisions and their effects, in order, with nothing written. `final`: each
        replaces a provisional one; `offline`: the database is known to be away."""
        ...

    def committed(self, planned: Planned, applied: Applied, *, stored: bool = True) -> None:
        """A planned decision's transaction won (or its decision went to the spool)."""
        ...

    def settled(self, applied: Applied) -> None:
        """Effects reached the database (now, or from the spool later)."""
        ...

    @property
    def writes_outbox(self) -> bool:
        """Whether `outbox` can give deliveries (webhooks are configured): only then must
        every decision's event be made before it is stored."""
        ...

    def outbox(self, event: DecisionMade) -> tuple[Delivery, ...]:
        """The webhook deliveries of a decision event, to be stored with the decision."""
        ...

    def deadline_ms(self, channel_id: str) -> float | None:
        """The channel's own deadline for the adjudicator; None: the service's setting."""
        ...

    async def start(self, *, metrics: CollectorRegistry | None = None) -> None:
        """Start background work (review timeouts, webhook sending); count on `metrics`."""
        ...

    async def close(self) -> None:
        """Stop background work."""
        ...

    def health(self) -> ComponentHealth | None:
        """The decider's own component on `/health` (a remote one's reachability); None: it
        has none of its own."""
        ...


class EffectFreeDecider:
    """The hooks of a decider whose decisions do nothing besides being stored: no strikes, no
    audit entries, no review items, no webhooks. Subclasses implement `decide`."""

    writes_outbox = False

    async def decide(self, message: Message, assessment: Assessment) -> Decision:
        raise NotImplementedError

    async def plan_many(
        self,
        items: Sequence[tuple[Message, Assessment]],
        *,
        final: bool = False,
        offline: bool = False,
    ) -> list[Planned]:
        return [Planned(await self.decide(m, a), NO_EFFECTS) for m, a in items]

    def committed(self, planned: Planned, applied: Applied, *, stored: bool = True) -> None:
        return None

    def settled(self, applied: Applied) -> None:
        return None

    def outbox(self, event: DecisionMade) -> tuple[Delivery, ...]:
        return ()

    def deadline_ms(self, channel_id: str) -> float | None:
        return None

    async def start(self, *, metrics: CollectorRegistry | None = None) -> None:
        return None

    async def close(self) -> None:
        return None

    def health(self) -> ComponentHealth | None:
        return None


class ThresholdDecider(EffectFreeDecider):
    """Allow what the router allows, delete what it acts on, flag what stays uncertain.

    A message still waiting for the adjudicator gets a provisional decision, and one the
    adjudicator could not judge a fallback, both by `fail_mode` (hold for review by default);
    one a stage sent to review is held.
    """

    name = "default"

    def __init__(self, *, fail_mode: FailMode = FailMode.HOLD) -> None:
        self.fail_mode = FailMode(fail_mode)

    async def decide(self, message: Message, assessment: Assessment) -> Decision:
        category, score = assessment.top()
        provisional = False
        basis, acted_on = PolicyReason.CLEAN, None
        if assessment.route is Route.ACT and category is not None:
            action, reason = Action.DELETE, f"{category.value} scored {score:.2f}"
            basis, acted_on = PolicyReason.SEVERITY, category
        elif assessment.pending:
            provisional = True
            action = self.fail_mode.action
            waiting = ", ".join(assessment.pending)
            reason = f"provisional ({self.fail_mode.value}): waiting for {waiting}"
            basis = PolicyReason.FAIL_MODE
        elif assessment.review:
            action, reason = Action.HOLD, "held for review: " + _top_reason(assessment)
            basis = PolicyReason.REVIEW_REQUESTED
        elif assessment.route is Route.UNCERTAIN and assessment.llm_unavailable:
            action = self.fail_mode.action
            reason = f"adjudicator unavailable ({self.fail_mode.value}): " + _top_reason(assessment)
            basis = PolicyReason.FAIL_MODE
        elif assessment.route is Route.UNCERTAIN and category is not None:
            action = Action.FLAG
            reason = f"uncertain: {category.value} scored {score:.2f}, no adjudicator available"
            basis = PolicyReason.UNCERTAIN
        else:
            action, reason = Action.ALLOW, "no category reached its threshold"
        return Decision(
            message_id=message.id,
            action=action,
            reason=reason,
            assessment=assessment,
            provisional=provisional,
            policy=self.name,
            trail=tuple(f"{t.stage}:{t.route.value}" for t in assessment.trail),
            policy_reason=basis,
            policy_category=acted_on,
        )


def _top_reason(assessment: Assessment) -> str:
    category, score = assessment.top()
    if category is None:
        return "no scores"
    return f"{category.value} scored {score:.2f}"
