"""The policy engine: the service's decider. It turns an assessment into a decision under the
channel's policy, climbs the strike ladder for repeat offenders, holds messages for review,
and plans the decision's effects (strike, audit entry, review item, webhook deliveries) for the
store to write in the decision's own transaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from chatguard.decisions.audit import SYSTEM, AuditLog
from chatguard.decisions.effects import (
    DECISION_KEY,
    FINAL_KEY,
    NO_EFFECTS,
    Applied,
    Effects,
    Planned,
    Supersession,
    effect_key,
)
from chatguard.decisions.evaluate import Verdict, evaluate
from chatguard.decisions.metrics import DecisionMetrics
from chatguard.decisions.outbox import deliveries_for, forwarded
from chatguard.decisions.policy import ChannelPolicy, Severity
from chatguard.decisions.policy_store import PolicyStore, ResolvedPolicy
from chatguard.decisions.presets import Presets, load_presets
from chatguard.decisions.records import AuditEntry, Delivery, ReviewStatus, Strike
from chatguard.decisions.repository import DecisionRepository
from chatguard.decisions.review import TOPIC, ReviewQueue, crisis_item
from chatguard.decisions.strikes import (
    FLOOD_SOURCE,
    Escalation,
    RecentStrikes,
    StrikeBook,
    StrikeLadder,
    harsher,
)
from chatguard.decisions.terms import TermsHook
from chatguard.decisions.webhooks import WebhookSender
from chatguard.domain import Action, Assessment, Decision, FailMode, Message, PolicyReason
from chatguard.errors import DeadlinePassedError, StoreUnavailableError
from chatguard.events import DecisionMade, EventBus
from chatguard.events.legacy import client_form
from chatguard.pipeline.stage import ComponentHealth

if TYPE_CHECKING:
    from chatguard.config import Settings
    from chatguard.storage import SqlStore

log = logging.getLogger(__name__)

#: Events whose webhook deliveries are written with the decision (the rest are forwarded).
TRANSACTIONAL_EVENTS = frozenset({"decision", "decision.final", "review.held", "review.superseded"})


class WriteFailedError(StoreUnavailableError):
    """Writing the effects of decisions failed, and may have committed all the same: the
    decisions already recorded (`known`, by message id) and those being written (`planned`,
    in order), which are the ones to answer and to write again."""

    def __init__(self, message: str, *, known: dict[str, Decision], planned: list[Planned]):
        super().__init__(message)
        self.known = known
        self.planned = planned


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
        #: Strikes this process gave, counted while the database is away.
        self.recent = RecentStrikes()

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
        repository = (
            DecisionRepository(engine=store.engine, look_up=store.plain_look_up)
            if store is not None
            else None
        )
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

    def health(self) -> ComponentHealth | None:
        """None: the engine's parts (the database) report their health themselves."""
        return None

    async def decide(
        self, message: Message, assessment: Assessment, *, final: bool = False
    ) -> Decision:
        """Decide and write the decision's effects at once, in a transaction of their own (for
        decisions that are not stored as messages, such as `POST /decide`'s). The service
        plans instead and stores the effects with the decision. `final`: the decision
        replaces a provisional one (as in `plan`)."""
        planned = await self.plan(message, assessment, final=final)
        if self.repository is not None and not planned.effects.empty:
            self.committed(planned, await self.repository.apply(planned.effects))
        else:
            self.committed(planned, Applied())
        return planned.decision

    async def decide_many(
        self,
        items: Sequence[tuple[Message, Assessment]],
        *,
        final: bool = False,
        deadline: float | None = None,
    ) -> list[Decision]:
        """`decide` for a batch, in order, its effects written in one transaction. A message
        already decided (a retry, another process) keeps the decision the audit log holds,
        and nothing of a second one is written (see `write_many_effects`). `deadline` (Unix
        seconds): the transaction must be done by then, else it is rolled back and
        `DeadlinePassedError` raised. A write that fails raises `WriteFailedError`, which
        carries the decisions it was writing: the commit may have landed, so those are the
        ones to keep."""
        known = await self.recorded(items, final=final)
        fresh = [(m, a) for m, a in items if m.id not in known]
        planned = await self.plan_many(fresh, final=final) if fresh else []
        if self.repository is None:
            applied = [Applied() for _ in planned]
        else:
            try:
                applied = await self._apply(planned, deadline)
            except StoreUnavailableError as exc:
                raise WriteFailedError(str(exc), known=known, planned=planned) from exc
        taken = [item for item, a in zip(fresh, applied, strict=True) if a.taken]
        if taken:  # decided meanwhile by another process: its decision stands
            known |= await self.recorded(taken, final=final)
        for (message, _), one, outcome in zip(fresh, planned, applied, strict=True):
            if message.id not in known:
                self.committed(one, outcome)
                known[message.id] = one.decision
        return [known[m.id] for m, _ in items]

    async def _apply(self, planned: Sequence[Planned], deadline: float | None) -> list[Applied]:
        assert self.repository is not None
        effects = [p.effects for p in planned]
        if deadline is None:
            return await self.repository.apply_many(effects)
        try:
            async with asyncio.timeout(deadline - time.time()):
                return await self.repository.apply_many(effects)
        except TimeoutError:
            raise DeadlinePassedError("the caller's deadline passed; nothing was written") from None

    async def recorded(
        self, items: Sequence[tuple[Message, Assessment]], *, final: bool = False
    ) -> dict[str, Decision]:
        """Decisions about these messages that the audit log already holds (another process,
        the decision role, made them), by message id, rebuilt on the given assessments."""
        if self.repository is None or not items:
            return {}
        kind = FINAL_KEY if final else DECISION_KEY
        keys = {effect_key(kind, m.id): (m, a) for m, a in items}
        entries = await self.repository.decision_entries(list(keys))
        found = {}
        for key, entry in entries.items():
            message, assessment = keys[key]
            details = entry.details or {}
            reason = details.get("policy_reason")
            duration = details.get("duration_s")
            decision = Decision(
                message_id=message.id,
                action=Action(entry.action.removeprefix("decision.")),
                reason=entry.reason,
                assessment=assessment,
                duration_s=None if duration is None else int(duration),
                provisional=bool(details.get("provisional", False)),
                policy=entry.actor.removeprefix("policy:"),
                trail=tuple(details.get("trail") or ()),
            )
            found[message.id] = (
                replace(decision, policy_reason=PolicyReason(reason)) if reason else decision
            )
        return found

    async def plan(
        self,
        message: Message,
        assessment: Assessment,
        *,
        final: bool = False,
        offline: bool = False,
    ) -> Planned:
        """The decision and its effects (strike, audit entry, review item, supersession),
        with nothing written. `final`: the decision replaces a provisional one. `offline`: the
        database is known to be away; decide from what this process knows (the channel's
        cached policy or the default preset, the strikes it has seen)."""
        return (await self.plan_many([(message, assessment)], final=final, offline=offline))[0]

    async def plan_many(
        self,
        items: Sequence[tuple[Message, Assessment]],
        *,
        final: bool = False,
        offline: bool = False,
    ) -> list[Planned]:
        """`plan` for a batch, in order: the strikes of earlier messages in the batch count
        for later ones of the same user, and the strikes are read in one query."""
        resolved = {}
        for message, _ in items:
            if message.channel_id not in resolved:
                resolved[message.channel_id] = await self._policy(message.channel_id, offline)
        verdicts = []
        offenders: set[tuple[str, str]] = set()
        for message, assessment in items:
            policy = resolved[message.channel_id]
            verdict = evaluate(policy.policy, message, assessment, policy.matcher)
            # A removal by fail mode (the LLM could not judge) is not held against the user,
            # and a person in crisis is never punished.
            strikes_apply = not (verdict.fallback or verdict.crisis) and self.strikes is not None
            strikes = (
                strikes_apply
                and verdict.rule.action.severity >= policy.policy.ladder.strike_at.severity
            )
            same_burst = False
            if strikes and verdict.flood:
                # One burst of spam-only offences is one offence: one strike per burst.
                same_burst = not await self._flood_strike_due(message, policy.policy, offline)
                strikes = not same_burst
            verdicts.append((verdict, strikes, same_burst))
            if strikes:
                offenders.add((message.channel_id, message.user_id))
        counts = await self._active(offenders, resolved, offline)
        planned = []
        for (message, assessment), (verdict, strikes, same_burst) in zip(
            items, verdicts, strict=True
        ):
            escalation = None
            if strikes:
                user = (message.channel_id, message.user_id)
                ladder = StrikeLadder(resolved[message.channel_id].policy.ladder)
                escalation = ladder.escalate(counts[user])
                counts[user] += 1
            planned.append(
                self._planned(
                    message,
                    assessment,
                    resolved[message.channel_id],
                    verdict,
                    escalation,
                    final,
                    same_burst=same_burst,
                )
            )
        return planned

    def _planned(
        self,
        message: Message,
        assessment: Assessment,
        resolved: ResolvedPolicy,
        verdict: Verdict,
        escalation: Escalation | None,
        final: bool,
        *,
        same_burst: bool = False,
    ) -> Planned:
        policy = resolved.policy
        rule, reason = verdict.rule, verdict.reason
        steps = [f"policy:{resolved.label}", *verdict.steps]
        if same_burst:
            reason += "; same flood burst, no new strike"
            steps.append("flood:same_burst")
        if escalation is not None:
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
            policy_reason=verdict.basis,
            policy_category=verdict.category if verdict.severity is not Severity.NONE else None,
            notice=policy.crisis.message if verdict.crisis else None,
        )
        effects = self._effects(message, decision, resolved, escalation, final, flood=verdict.flood)
        return Planned(decision, effects)

    async def _active(
        self,
        users: set[tuple[str, str]],
        resolved: dict[str, ResolvedPolicy],
        offline: bool,
    ) -> dict[tuple[str, str], int]:
        """Strikes still counting per (channel, user), each under its channel's decay."""
        if not users:
            return {}
        now = self.clock()
        since = {
            user: StrikeLadder(resolved[user[0]].policy.ladder).window_start(now) for user in users
        }
        if self.repository is not None and not offline:
            try:
                times = await self.repository.strike_times(sorted(users), since=min(since.values()))
                return {u: sum(1 for at in times[u] if at >= since[u]) for u in users}
            except StoreUnavailableError:
                pass
        # The database is away: the strikes this process has seen.
        return {u: self.recent.count(u[0], u[1], since=since[u]) for u in users}

    def _effects(
        self,
        message: Message,
        decision: Decision,
        resolved: ResolvedPolicy,
        escalation: Escalation | None,
        final: bool,
        *,
        flood: bool = False,
    ) -> Effects:
        if self.repository is None:
            return NO_EFFECTS
        now = self.clock()
        strike = _strike(message, decision, escalation, now, flood=flood) if escalation else None
        # Allowed messages are in the decisions table already; the audit log records actions.
        audit: tuple[AuditEntry, ...] = ()
        if decision.action is not Action.ALLOW:
            audit = (self._audit_entry(message, decision, resolved, final=final),)
        review = None
        if self.reviews is not None and decision.action is Action.HOLD:
            # A final hold after a provisional one finds the item stored: it stays as it is.
            review = self.reviews.item_for(message, decision, resolved.policy)
            if decision.policy_reason is PolicyReason.CRISIS:
                review = crisis_item(review, resolved.policy.crisis)
        supersede = None
        if final and self.reviews is not None and decision.action is not Action.HOLD:
            supersede = Supersession(
                message_id=message.id,
                outcome=decision.action.value,
                note="final decision: " + decision.reason,
                at=now,
            )
        return Effects(
            strike=strike,
            audit=audit,
            review=review,
            supersede=supersede,
            webhook_urls=tuple(self.webhooks.urls) if self.webhooks is not None else (),
        )

    @property
    def writes_outbox(self) -> bool:
        return self.webhooks is not None

    def outbox(self, event: DecisionMade) -> tuple[Delivery, ...]:
        """The webhook deliveries of a decision event, to be stored with the decision (in
        the client form webhooks carry; made only when webhooks are configured)."""
        if self.webhooks is None:
            return ()
        form = client_form(event)
        if not forwarded(form):
            return ()
        return deliveries_for(form, self.webhooks.urls, self.clock())

    async def _flood_strike_due(
        self, message: Message, policy: ChannelPolicy, offline: bool
    ) -> bool:
        assert self.strikes is not None
        try:
            return await self.strikes.flood_strike_due(
                message.channel_id,
                message.user_id,
                now=self.clock(),
                burst_s=policy.flood.burst_s,
                offline=offline,
            )
        except StoreUnavailableError:
            return True

    def committed(self, planned: Planned, applied: Applied, *, stored: bool = True) -> None:
        """A planned decision's transaction won (or, `stored=False`, its decision went to the
        local spool to be stored later): count it, remember its strike, and send what the
        transaction put in the outbox."""
        decision = planned.decision
        self.metrics.actions.labels(decision.action.value, decision.policy).inc()
        effects = planned.effects
        if effects.strike is not None:
            self.metrics.strikes.labels(effects.strike.source).inc()
            self.recent.add(effects.strike)
        if effects.review is not None and (not stored or applied.held):
            self.metrics.reviews.labels("held").inc()
        self.settled(applied)

    def settled(self, applied: Applied) -> None:
        """Effects reached the database (now, or from the spool later): count a supersession
        and hand the deliveries the transaction added to the sender."""
        if applied.superseded:
            self.metrics.reviews.labels(ReviewStatus.SUPERSEDED.value).inc()
        if self.webhooks is not None and applied.deliveries:
            self.webhooks.wake(applied.deliveries)

    async def _policy(self, channel_id: str, offline: bool) -> ResolvedPolicy:
        if offline:
            return self.policies.fallback(channel_id)
        try:
            return await self.policies.get(channel_id)
        except StoreUnavailableError:
            return self.policies.fallback(channel_id)

    def _audit_entry(
        self, message: Message, decision: Decision, resolved: ResolvedPolicy, *, final: bool
    ) -> AuditEntry:
        assert self.audit is not None
        category, score = decision.assessment.top()
        entry = self.audit.entry(
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
                "policy_reason": decision.policy_reason.value,
                "trail": list(decision.trail),
            },
        )
        key = effect_key(FINAL_KEY if final else DECISION_KEY, message.id)
        return replace(entry, effect_key=key)

    async def _forward(self, subscription: Any) -> None:
        assert self.webhooks is not None
        async for typed in subscription:
            event = client_form(typed)
            # Decisions and the review events they cause reach the outbox with the decision;
            # what happens later (a moderator's verdict, a review timeout) is sent from here.
            if event.get("type") in TRANSACTIONAL_EVENTS or not forwarded(event):
                continue
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
