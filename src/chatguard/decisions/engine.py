"""The policy engine: the service's decider. It turns an assessment into a decision under the
channel's policy, climbs the strike ladder for repeat offenders, holds messages for review,
writes the audit log and forwards decisions to webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from chatguard.decisions.audit import SYSTEM, AuditLog
from chatguard.decisions.evaluate import evaluate
from chatguard.decisions.metrics import DecisionMetrics
from chatguard.decisions.policy import ChannelPolicy
from chatguard.decisions.policy_store import PolicyStore, ResolvedPolicy
from chatguard.decisions.presets import Presets, load_presets
from chatguard.decisions.records import AuditEntry, Strike
from chatguard.decisions.repository import DecisionRepository
from chatguard.decisions.review import TOPIC, ReviewQueue
from chatguard.decisions.strikes import (
    FLOOD_SOURCE,
    Escalation,
    StrikeBook,
    StrikeLadder,
    harsher,
)
from chatguard.decisions.terms import TermsHook
from chatguard.decisions.webhooks import WebhookSender
from chatguard.domain import Action, Assessment, Decision, FailMode, Message
from chatguard.events import EventBus

if TYPE_CHECKING:
    from chatguard.config import Settings
    from chatguard.storage import SqlStore

log = logging.getLogger(__name__)

MAX_PROVISIONAL_HOLDS = 100_000


class PolicyEngine:
    """Implements the `Decider` protocol. Without a repository it still applies channel
    presets, but keeps no strikes, review queue or audit log."""

    name = "policy"

    def __init__(
        self,
        *,
        presets: Presets | None = None,
        repository: DecisionRepository | None = None,
        events: EventBus | None = None,
        webhooks: WebhookSender | None = None,
        on_terms: TermsHook | None = None,
        clock: Callable[[], float] = time.time,
        review_interval_s: float = 1.0,
        redaction: str = "off",
    ) -> None:
        self.presets = presets or load_presets()
        self.repository = repository
        self.events = events
        self.webhooks = webhooks
        self.clock = clock
        self.review_interval_s = review_interval_s
        self.audit = AuditLog(repository=repository, clock=clock) if repository else None
        self.strikes = StrikeBook(repository=repository) if repository else None
        self.reviews = (
            ReviewQueue(
                repository=repository,
                audit=self.audit,
                events=events,
                clock=clock,
                redaction=redaction,
            )
            if repository and self.audit
            else None
        )
        self.policies = PolicyStore(
            presets=self.presets, repository=repository, audit=self.audit, on_terms=on_terms
        )
        self._forwarder: asyncio.Task[None] | None = None
        self.metrics = DecisionMetrics()
        self._bound = False
        # Review items of provisional holds, by message id, until the final decision lands.
        self._provisional_holds: dict[str, str] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, *, store: SqlStore | None, events: EventBus | None
    ) -> PolicyEngine:
        # LLM_FAIL_MODE and LLM_DEADLINE_MS are every channel's defaults; presets may differ.
        defaults = load_presets()
        presets = replace(
            defaults,
            base={
                **defaults.base,
                "fail_mode": settings.llm_fail_mode,
                "llm_deadline_ms": settings.llm_deadline_ms,
            },
        )
        repository = DecisionRepository(engine=store.engine) if store is not None else None
        webhooks = None
        urls = settings.webhook_url_list
        if urls and repository is not None and settings.webhook_secret is not None:
            webhooks = WebhookSender(
                urls=urls, secret=settings.webhook_secret, repository=repository
            )
        return cls(
            presets=presets,
            repository=repository,
            events=events,
            webhooks=webhooks,
            redaction=settings.pii_redaction,
        )

    @property
    def fail_mode(self) -> FailMode:
        """The fail mode of channels whose policy does not set its own (LLM_FAIL_MODE)."""
        return FailMode(self.presets.base.get("fail_mode", FailMode.HOLD))

    def deadline_ms(self, channel_id: str) -> float | None:
        """The channel's LLM deadline, if its policy is loaded (synchronous, no database)."""
        resolved = self.policies.peek(channel_id)
        return resolved.policy.llm_deadline_ms if resolved is not None else None

    def set_terms_hook(self, hook: TermsHook) -> None:
        """Where blocked/permitted terms go when a channel's policy loads or changes."""
        self.policies.on_terms = hook

    def bind_metrics(self, registry: CollectorRegistry) -> None:
        """Count on `registry` (the service's) from now on; once."""
        if self._bound:
            return
        self._bound = True
        self.metrics = DecisionMetrics(registry)
        for part in (self.reviews, self.webhooks):
            if part is not None:
                part.metrics = self.metrics

    async def start(self, *, metrics: CollectorRegistry | None = None) -> None:
        if metrics is not None:
            self.bind_metrics(metrics)
        if self.reviews is not None:
            self.reviews.start(interval_s=self.review_interval_s)
        if self.webhooks is not None:
            await self.webhooks.start()
            if self.events is not None:
                subscription = self.events.subscribe(TOPIC)
                self._forwarder = asyncio.create_task(self._forward(subscription))
                await asyncio.sleep(0)  # let the subscription register before events flow

    async def close(self) -> None:
        if self._forwarder is not None:
            self._forwarder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._forwarder
        if self.reviews is not None:
            await self.reviews.close()
        if self.webhooks is not None:
            await self.webhooks.close()

    async def decide(self, message: Message, assessment: Assessment) -> Decision:
        resolved = await self.policies.get(message.channel_id)
        policy = resolved.policy
        verdict = evaluate(policy, message, assessment, resolved.matcher)
        rule, reason = verdict.rule, verdict.reason
        steps = [f"policy:{resolved.label}", *verdict.steps]
        escalation = None
        # A removal by fail mode (the LLM could not judge) is not held against the user.
        strikes_apply = not verdict.fallback and self.strikes is not None
        if strikes_apply and rule.action.severity >= policy.ladder.strike_at.severity:
            if verdict.flood and not await self._flood_strike_due(message, policy):
                reason += "; same flood burst, no new strike"
                steps.append("flood:same_burst")
            else:
                escalation = await self._escalate(message, resolved)
                rule = harsher(rule, escalation.rung)
                reason += f"; {escalation.describe()}"
                steps.append(f"rung:{escalation.position}:{escalation.rung.name}")
        decision = Decision(
            message_id=message.id,
            action=rule.action,
            reason=reason,
            assessment=assessment,
            duration_s=rule.duration_s,
            provisional=verdict.provisional,
            policy=policy.name,
            trail=(*(f"{t.stage}:{t.route.value}" for t in assessment.trail), *steps),
        )
        self.metrics.actions.labels(decision.action.value, policy.name).inc()
        if escalation is not None:
            self.metrics.strikes.labels(FLOOD_SOURCE if verdict.flood else "auto").inc()
        if self.reviews is not None:
            await self._review(message, decision, policy)
        if self.repository is not None and decision.action is not Action.ALLOW:
            # Allowed messages are in the decisions table already; the audit log records actions.
            strike = (
                _strike(message, decision, escalation, self.clock(), flood=verdict.flood)
                if escalation
                else None
            )
            await self.repository.add_offence(
                strike, self._audit_entry(message, decision, resolved)
            )
        return decision

    async def _review(self, message: Message, decision: Decision, policy: ChannelPolicy) -> None:
        assert self.reviews is not None
        earlier = self._provisional_holds.pop(message.id, None)
        if earlier is not None and decision.action is not Action.HOLD:
            await self.reviews.supersede(
                earlier, action=decision.action, reason="final decision: " + decision.reason
            )
        if decision.action is Action.HOLD and earlier is None:
            item = await self.reviews.hold(message, decision, policy)
            if decision.provisional:
                if len(self._provisional_holds) >= MAX_PROVISIONAL_HOLDS:
                    # Finals that never came (a restart, a lost escalation): forget the oldest;
                    # their items simply wait for a moderator or the review timeout.
                    self._provisional_holds.pop(next(iter(self._provisional_holds)))
                self._provisional_holds[message.id] = item.id

    async def _flood_strike_due(self, message: Message, policy: ChannelPolicy) -> bool:
        assert self.strikes is not None
        return await self.strikes.flood_strike_due(
            message.channel_id, message.user_id, now=self.clock(), burst_s=policy.flood.burst_s
        )

    async def _escalate(self, message: Message, resolved: ResolvedPolicy) -> Escalation:
        assert self.strikes is not None
        ladder = StrikeLadder(resolved.policy.ladder)
        active = await self.strikes.active(
            message.channel_id, message.user_id, ladder, self.clock()
        )
        return ladder.escalate(active)

    def _audit_entry(
        self, message: Message, decision: Decision, resolved: ResolvedPolicy
    ) -> AuditEntry | None:
        if self.audit is None:
            return None
        category, score = decision.assessment.top()
        return self.audit.entry(
            actor=f"policy:{resolved.policy.name}",
            kind=SYSTEM,
            action=f"decision.{decision.action.value}",
            channel_id=message.channel_id,
            user_id=message.user_id,
            message_id=message.id,
            reason=decision.reason,
            details={
                "policy_version": resolved.version,
                "defaults_version": resolved.defaults_version,
                "duration_s": decision.duration_s,
                "provisional": decision.provisional,
                "top_category": category.value if category else None,
                "top_score": round(score, 4),
                "trail": list(decision.trail),
            },
        )

    async def _forward(self, subscription: Any) -> None:
        assert self.webhooks is not None
        async for event in subscription:
            if event.get("action") == Action.ALLOW.value and event.get("type") == "decision":
                continue  # platforms need to hear about actions, not every clean message
            try:
                await self.webhooks.send(event)
            except Exception as exc:  # the database may be briefly away; keep forwarding
                log.warning("webhook enqueue failed: %s", type(exc).__name__)


def _strike(
    message: Message, decision: Decision, escalation: Escalation, now: float, *, flood: bool
) -> Strike:
    return Strike(
        channel_id=message.channel_id,
        user_id=message.user_id,
        message_id=message.id,
        at=now,
        action=decision.action.value,
        rung=escalation.rung.name,
        reason=decision.reason,
        source=FLOOD_SOURCE if flood else "auto",
    )
