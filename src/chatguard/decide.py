"""Turning an assessment into a decision. `Decider` is the interface channel policy plugs into;
`ThresholdDecider` is the built-in default used until a policy engine is configured."""

from __future__ import annotations

from typing import Protocol

from chatguard.domain import Action, Assessment, Decision, FailMode, Message, PolicyReason, Route


class Decider(Protocol):
    async def decide(self, message: Message, assessment: Assessment) -> Decision: ...


class ThresholdDecider:
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
