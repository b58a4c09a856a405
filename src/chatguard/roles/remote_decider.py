"""The decider of a role that leaves decisions to the decision role (DECISION_ENDPOINT).

Each assessment (or a batch of them) goes to the decision role's `POST /decide/batch`, which
applies the channel's policy and writes the decisions' effects (strike, audit entry, review
item) in its own database transaction, unless the deadline sent with them passed first; the
answer becomes this role's decision. While the decision role is away, this role applies the
channel's policy itself (a policy engine on its own connection to the shared database:
strikes, audit entry and review item are stored with the message, or spooled with it while
the database is away too); without a database, the built-in threshold decider decides by the
configured fail mode. The reason says which; `/health` names the decision role as degraded.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chatguard.decide import EffectFreeDecider, ThresholdDecider
from chatguard.decisions.effects import NO_EFFECTS, Applied, Planned
from chatguard.domain import Assessment, Decision, FailMode, Message
from chatguard.errors import StoreUnavailableError
from chatguard.pipeline.stage import ComponentHealth
from chatguard.roles.connect import role_transport
from chatguard.roles.transport import (
    HealthProbe,
    RoleTransport,
    RoleUnavailableError,
)
from chatguard.roles.wire import span_to_wire
from chatguard.serialize import decision_from_dict
from chatguard.storage.group_commit import GroupQueue

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from chatguard.config import Settings
    from chatguard.decisions import PolicyEngine

DECIDE_BATCH_PATH = "/decide/batch"
#: Most decisions in one call: the requests waiting while calls are out share the next one.
MAX_CALL_DECISIONS = 500
#: Calls out to the decision role at once (it serves several: its consumers, or its HTTP
#: server's concurrency).
CALLS_IN_FLIGHT = 4
#: The share of the call's time the decision role has to write a decision's effects.
DEADLINE_SHARE = 0.75
#: How a decision was made while the decision role was away (its reason begins with it).
THRESHOLDS, APPLIED_HERE = "built-in thresholds", "channel policy applied by the api role"


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
    so none are planned here. While the decision role is away, `local` (a policy engine on
    this role's own connection to the shared database) applies the channel's policy and its
    effects are stored with the message here; without one, the built-in thresholds decide."""

    name = "remote"

    def __init__(
        self,
        *,
        transport: RoleTransport,
        fallback: ThresholdDecider | None = None,
        local: PolicyEngine | None = None,
        probe_interval_s: float = 5.0,
    ) -> None:
        self.transport = transport
        self._calls: GroupQueue[tuple[Message, Assessment, bool], list[Decision]] = GroupQueue(
            self._call, max_entries=MAX_CALL_DECISIONS, concurrency=CALLS_IN_FLIGHT
        )
        self.fallback = fallback or ThresholdDecider()
        self.local = local
        self.probe = HealthProbe(transport, interval_s=probe_interval_s)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, local: PolicyEngine | None = None
    ) -> RemoteDecider:
        assert settings.decision_endpoint is not None
        transport = role_transport(
            settings, target="decision role", role="decision", base_url=settings.decision_endpoint
        )
        return cls(
            transport=transport,
            fallback=ThresholdDecider(fail_mode=FailMode(settings.llm_fail_mode)),
            local=local,
        )

    async def decide(
        self, message: Message, assessment: Assessment, *, final: bool = False
    ) -> Decision:
        """The decision role's decision (`final`: it replaces this message's provisional
        one); while it is away, the built-in thresholds' (nothing is written here)."""
        try:
            return (await self._remote([(message, assessment)], final=final))[0]
        except RoleUnavailableError:
            return _unavailable(await self.fallback.decide(message, assessment), THRESHOLDS)

    async def plan_many(
        self,
        items: Sequence[tuple[Message, Assessment]],
        *,
        final: bool = False,
        offline: bool = False,
    ) -> list[Planned]:
        try:
            return [Planned(d, NO_EFFECTS) for d in await self._remote(items, final=final)]
        except RoleUnavailableError:
            pass
        if self.local is not None:
            return await self._locally(items, final=final, offline=offline)
        return [
            Planned(_unavailable(await self.fallback.decide(m, a), THRESHOLDS), NO_EFFECTS)
            for m, a in items
        ]

    async def _locally(
        self, items: Sequence[tuple[Message, Assessment]], *, final: bool, offline: bool
    ) -> list[Planned]:
        """The channel policy applied here. A message the decision role did decide (its
        answer was lost on the way: the audit log has its entry) keeps that decision, so the
        stored decision and its effects never disagree."""
        assert self.local is not None
        known: dict[str, Decision] = {}
        if not offline:
            with contextlib.suppress(StoreUnavailableError):
                known = await self.local.recorded(items, final=final)
        fresh = [(m, a) for m, a in items if m.id not in known]
        planned = await self.local.plan_many(fresh, final=final, offline=offline) if fresh else []
        made = {p.decision.message_id: p for p in planned}
        return [
            Planned(known[m.id], NO_EFFECTS)
            if m.id in known
            else Planned(_unavailable(made[m.id].decision, APPLIED_HERE), made[m.id].effects)
            for m, _ in items
        ]

    async def _remote(
        self, items: Sequence[tuple[Message, Assessment]], *, final: bool
    ) -> list[Decision]:
        """The decision role's decisions. Requests deciding at the same time share calls
        (`GroupQueue`): those waiting while `CALLS_IN_FLIGHT` calls are out go in the next."""
        return await self._calls.submit([(m, a, final) for m, a in items])

    async def _call(
        self, groups: list[list[tuple[Message, Assessment, bool]]]
    ) -> list[list[Decision] | BaseException]:
        """One call for the decisions of several requests. The decision role must know a
        final from a first decision (it writes the effects), and it writes nothing past the
        deadline sent: a quarter of the call's time before this role gives up and decides
        without it, so the two never both decide one message."""
        items = [item for group in groups for item in group]
        timeout_s = float(getattr(self.transport, "timeout_s", 30.0))
        body = {
            "decisions": [decide_body(m, a, final=final) for m, a, final in items],
            "deadline": round(time.time() + timeout_s * DEADLINE_SHARE, 3),
        }
        answer = await self.transport.call(DECIDE_BATCH_PATH, body)
        results = answer.get("results")
        if not isinstance(results, list) or len(results) != len(items):
            raise RoleUnavailableError("the decision role answered without one result each")
        decided = iter(
            decision_from_answer(m, a, r) for (m, a, _), r in zip(items, results, strict=True)
        )
        return [[next(decided) for _ in group] for group in groups]

    def committed(self, planned: Planned, applied: Applied, *, stored: bool = True) -> None:
        if self.local is not None:
            self.local.committed(planned, applied, stored=stored)

    def settled(self, applied: Applied) -> None:
        if self.local is not None:
            self.local.settled(applied)

    async def start(self, *, metrics: CollectorRegistry | None = None) -> None:
        if metrics is not None:
            self.register_metrics(metrics)
        # The local engine runs no background work of its own (review expiry, webhook
        # sending): the decision role does; it only decides while that role is away.
        await self.probe.start()

    async def close(self) -> None:
        await self._calls.close()
        await self.probe.close()
        await self.transport.close()

    def register_metrics(self, registry: CollectorRegistry) -> None:
        for part in (self.transport, self.local):
            bind = getattr(part, "bind_metrics", None)
            if callable(bind):
                bind(registry)

    def health(self) -> ComponentHealth | None:
        where = getattr(self.transport, "base_url", "")
        error = getattr(self.transport, "last_error", None)
        if error is None:
            return ComponentHealth(
                "decision", True, f"remote: the decision role at {where}", essential=False
            )
        meanwhile = (
            "the channel policies are applied here meanwhile"
            if self.local is not None
            else "the built-in thresholds decide meanwhile"
        )
        return ComponentHealth(
            "decision", False, f"the decision role at {where} {error}; {meanwhile}", essential=False
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


def _unavailable(decision: Decision, how: str) -> Decision:
    return replace(
        decision,
        reason=f"decision role unavailable, {how}: {decision.reason}",
        policy="fallback" if how == THRESHOLDS else decision.policy,
    )
