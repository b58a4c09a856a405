"""The decider of a role that leaves decisions to the decision role (DECISION_ENDPOINT).

Each assessment goes to the decision role's `POST /decide`, which applies the channel's
policy and writes the decision's effects (strike, audit entry, review item) in its own
database transaction; the answer becomes this role's decision. While the decision role is
away, the built-in threshold decider decides, in the channel's stead, by the configured fail
mode, and the reason says so; `/health` names the decision role as degraded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chatguard.decide import EffectFreeDecider, ThresholdDecider
from chatguard.decisions.effects import NO_EFFECTS, Planned
from chatguard.domain import Assessment, Decision, FailMode, Message
from chatguard.pipeline.stage import ComponentHealth
from chatguard.roles.transport import (
    HealthProbe,
    HttpRoleTransport,
    RoleTransport,
    RoleUnavailableError,
)
from chatguard.roles.wire import span_to_wire
from chatguard.serialize import decision_from_dict

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from chatguard.config import Settings

DECIDE_PATH = "/decide"
DECIDE_BATCH_PATH = "/decide/batch"


def decide_body(message: Message, assessment: Assessment, *, final: bool = False) -> dict[str, Any]:
    """The decision role's `DecideRequest` for this message and assessment."""
    return {
        "final": final,
        "message": message.text,
        "user_id": message.user_id,
        "channel_id": message.channel_id,
        "message_id": message.id,
        "roles": sorted(r.value for r in message.roles),
        "timestamp": message.timestamp,
        "assessment": {
            "scores": {c.value: round(float(s), 6) for c, s in assessment.scores.items()},
            "route": assessment.route.value,
            "decided_by": assessment.decided_by,
            "spans": [span_to_wire(s) for s in assessment.spans],
            "pending": list(assessment.pending),
            "llm_unavailable": assessment.llm_unavailable,
            "review": assessment.review,
        },
    }


class RemoteDecider(EffectFreeDecider):
    """A `Decider` whose decisions are the decision role's: the effects are written there,
    so none are planned here."""

    name = "remote"

    def __init__(
        self,
        *,
        transport: RoleTransport,
        fallback: ThresholdDecider | None = None,
        probe_interval_s: float = 5.0,
    ) -> None:
        self.transport = transport
        self.fallback = fallback or ThresholdDecider()
        self.probe = HealthProbe(transport, interval_s=probe_interval_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteDecider:
        assert settings.decision_endpoint is not None
        transport = HttpRoleTransport.from_settings(
            settings, target="decision role", base_url=settings.decision_endpoint
        )
        return cls(
            transport=transport,
            fallback=ThresholdDecider(fail_mode=FailMode(settings.llm_fail_mode)),
        )

    async def decide(
        self, message: Message, assessment: Assessment, *, final: bool = False
    ) -> Decision:
        """The decision role's decision; `final`: it replaces this message's provisional one."""
        try:
            body = decide_body(message, assessment, final=final)
            answer = await self.transport.call(DECIDE_PATH, body)
            return decision_from_answer(message, assessment, answer)
        except RoleUnavailableError:
            decision = await self.fallback.decide(message, assessment)
            return _unavailable(decision)

    async def plan_many(
        self,
        items: Sequence[tuple[Message, Assessment]],
        *,
        final: bool = False,
        offline: bool = False,
    ) -> list[Planned]:
        # The decision role writes the effects; it must know a final from a first decision.
        if len(items) == 1:
            message, assessment = items[0]
            return [Planned(await self.decide(message, assessment, final=final), NO_EFFECTS)]
        try:
            body = {"decisions": [decide_body(m, a, final=final) for m, a in items]}
            answer = await self.transport.call(DECIDE_BATCH_PATH, body)
            results = answer.get("results")
            if not isinstance(results, list) or len(results) != len(items):
                raise RoleUnavailableError("the decision role answered without one result each")
            decisions = [
                decision_from_answer(m, a, r) for (m, a), r in zip(items, results, strict=True)
            ]
        except RoleUnavailableError:
            decisions = [_unavailable(await self.fallback.decide(m, a)) for m, a in items]
        return [Planned(d, NO_EFFECTS) for d in decisions]

    async def start(self, *, metrics: CollectorRegistry | None = None) -> None:
        if metrics is not None:
            self.register_metrics(metrics)
        await self.probe.start()

    async def close(self) -> None:
        await self.probe.close()
        await self.transport.close()

    def register_metrics(self, registry: CollectorRegistry) -> None:
        bind = getattr(self.transport, "bind_metrics", None)
        if callable(bind):
            bind(registry)

    def health(self) -> ComponentHealth | None:
        where = getattr(self.transport, "base_url", "")
        error = getattr(self.transport, "last_error", None)
        if error is None:
            return ComponentHealth(
                "decision", True, f"remote: the decision role at {where}", essential=False
            )
        return ComponentHealth(
            "decision",
            False,
            f"the decision role at {where} {error}; the built-in thresholds decide meanwhile",
            essential=False,
        )


def decision_from_answer(
    message: Message, assessment: Assessment, answer: dict[str, Any]
) -> Decision:
    """The decision role's answer (a `decision_dict`) as a `Decision` on this role's own
    assessment (which keeps the trail and the thresholds the answer does not carry)."""
    try:
        return decision_from_dict(message, assessment, answer)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RoleUnavailableError("the decision role answered without a usable decision") from None


def _unavailable(decision: Decision) -> Decision:
    return replace(
        decision,
        reason=f"decision role unavailable, built-in thresholds: {decision.reason}",
        policy="fallback",
    )
