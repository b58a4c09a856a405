"""Turning an assessment into a decision. `Decider` is the interface channel policy plugs into;
`ThresholdDecider` is the built-in default used until a policy engine is configured."""

from __future__ import annotations

from typing import Protocol

from chatguard.domain import Action, Assessment, Decision, Message, Route


class Decider(Protocol):
    async def decide(self, message: Message, assessment: Assessment) -> Decision: ...


class ThresholdDecider:
    """Allow what the router allows, delete what it acts on, flag what stays uncertain."""

    name = "default"

    async def decide(self, message: Message, assessment: Assessment) -> Decision:
        category, score = assessment.top()
        if assessment.route is Route.ACT and category is not None:
            action, reason = Action.DELETE, f"{category.value} scored {score:.2f}"
        elif assessment.route is Route.UNCERTAIN and category is not None:
            action = Action.FLAG
            reason = f"uncertain: {category.value} scored {score:.2f}, no adjudicator available"
        else:
            action, reason = Action.ALLOW, "no category reached its threshold"
        return Decision(
            message_id=message.id,
            action=action,
            reason=reason,
            assessment=assessment,
            policy=self.name,
            trail=tuple(f"{t.stage}:{t.route.value}" for t in assessment.trail),
        )
