"""The moderation service: the pipeline, the decider, the store, the event bus and the metrics
wired together. The application layer (`chatguard.app`) calls this; adapters (HTTP, CLI, MCP,
connectors) call the application layer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from chatguard.channel import CHANNEL_CONTEXT, ChannelMemory
from chatguard.config import Settings
from chatguard.decide import Decider, ThresholdDecider
from chatguard.decisions import PolicyEngine
from chatguard.decisions.effects import Applied, Effects, Planned
from chatguard.decisions.repository import held_event
from chatguard.decisions.terms import push_terms_to
from chatguard.domain import Action, Assessment, Decision, Message, PolicyReason, Route
from chatguard.errors import InputTooLargeError, InvalidInputError
from chatguard.events import (
    ASSESSMENTS_TOPIC,
    DECISIONS_TOPIC,
    ESCALATIONS_TOPIC,
    DecisionMade,
    EscalationRequested,
    EventBus,
    InProcessEventBus,
    MessageAssessed,
)
from chatguard.events.factory import build_event_bus
from chatguard.events.legacy import FINAL_DECISION, from_client_form
from chatguard.events.metrics import register_bus_metrics
from chatguard.fairness import FairScheduler
from chatguard.filter.pii import apply_redaction
from chatguard.input_rules import identifier_problem, text_problem
from chatguard.metrics import ModerationMetrics
from chatguard.pipeline import Pipeline, Router, Thresholds
from chatguard.pipeline.pipeline import PipelineRun
from chatguard.pipeline.stage import ComponentHealth
from chatguard.retention import RetentionJob
from chatguard.roles.remote import build_stages
from chatguard.roles.remote_decider import RemoteDecider
from chatguard.storage import SqlStore
from chatguard.storage.keeper import StoreKeeper
from chatguard.storage.metrics import StorageMetrics
from chatguard.storage.spool import FINAL, Spool, spool_path
from chatguard.storage.store import Entry, PoolSettings, StoredDecision, check_same_text
from chatguard.taxonomy import Category

log = logging.getLogger(__name__)

# The topic and the client type of final decisions stay importable from here for adapters.
__all__ = ["DECISIONS_TOPIC", "FINAL_DECISION", "ModerationService", "Outcome"]
#: Texts that touch every fast detector once at start (email, phone, link, emote, caps).
WARM_UP = ("hello chat, mail a@b.co or call +1 415 555 0132, see https://x.io PogChamp LOL",)
#: Chunks of bulk work at a time when other roles or an LLM do part of the work: a chunk
#: then mostly waits on them, and one turn at a time would leave them idle meanwhile.
REMOTE_BATCH_TURNS = 4
#: Context key telling stateful stages (rate, flood, strikes) to leave their state alone.
STATELESS = "stateless"


@dataclass(frozen=True, slots=True)
class _Decided:
    """A fresh decision, its effects (webhook deliveries of its event included) and, when
    the webhooks' outbox needed it, its event, published once it is stored."""

    message: Message
    decision: Decision
    effects: Effects
    event: DecisionMade | None
    #: It replaces a provisional decision.
    final: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """A decision as returned to a caller: the plain-data response and whether it was replayed."""

    response: dict[str, Any]
    replayed: bool = False
    decision: Decision | None = None


class ModerationService:
    def __init__(
        self,
        *,
        settings: Settings,
        pipeline: Pipeline,
        decider: Decider | None = None,
        policy: PolicyEngine | None = None,
        store: SqlStore | None = None,
        events: EventBus | None = None,
        metrics: ModerationMetrics | None = None,
        spool: Spool | None = None,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        #: Decides every message; the service calls it only through the `Decider` hooks.
        self.decider: Decider = decider or policy or ThresholdDecider()
        #: The channel policy engine whose records (policies, strikes, review queue, audit
        #: log, webhooks) the application layer works on; None: a service without them.
        self.policy = policy
        self.store = store
        self.events = events or InProcessEventBus()
        self.metrics = metrics or ModerationMetrics()
        self.channels = ChannelMemory(history=max(settings.llm_context_messages, 1))
        self.started_at = time.time()
        self.storage_metrics = StorageMetrics(self.metrics.registry)
        self.keeper: StoreKeeper | None = None
        if store is not None:
            if spool is None and settings.spool_max_messages > 0:
                spool = Spool(
                    spool_path(settings.database_url, settings.spool_path),
                    max_messages=settings.spool_max_messages,
                )
            self.keeper = StoreKeeper(store=store, spool=spool, metrics=self.storage_metrics)
            self.keeper.on_flushed = self._flushed
            if policy is not None and policy.repository is not None:
                self.keeper.effects_writer = policy.repository.apply_many
            self.keeper.recovery = self.recover_provisional
        #: Turns for the chunks of large batches: one at a time where this process does the
        #: chunk's work; a few where other roles or the LLM do (the chunk mostly waits on them).
        remote = any(
            (
                settings.filter_endpoint,
                settings.llm_worker_endpoint,
                settings.decision_endpoint,
                settings.llm_endpoint,
            )
        )
        self.fairness = FairScheduler(
            turns=REMOTE_BATCH_TURNS if remote else 1,
            chunk=settings.batch_chunk_size,
            chunk_beside_others=settings.batch_chunk_beside_others,
        )
        # Escalations still running after their message got a provisional decision.
        self._followups: set[asyncio.Task[None]] = set()
        #: Deletes old message text in the background (RETENTION_DAYS); None: kept forever.
        self.retention: RetentionJob | None = None
        if store is not None and settings.retention_days > 0:
            self.retention = RetentionJob(
                engine=store.engine,
                days=settings.retention_days,
                interval_s=settings.retention_interval_s,
            )
        for stage in pipeline.stages:
            stage.register_metrics(self.metrics.registry)
        register_bus_metrics(self.metrics.registry, self.events.counters, self.events.kind)

    @classmethod
    def from_settings(cls, settings: Settings, *, with_store: bool = True) -> ModerationService:
        # Stages another role serves (FILTER_ENDPOINT, LLM_WORKER_ENDPOINT) are remote.
        stages = build_stages(settings)
        pool = PoolSettings(settings.database_pool_size, settings.database_max_overflow)
        store = SqlStore(settings.database_url, pool=pool) if with_store else None
        events = build_event_bus(settings)
        decider: Decider
        engine: PolicyEngine | None = None
        if settings.decision_endpoint is not None:
            # The decision role applies channel policy and writes the effects; while it is
            # away, a policy engine of this process on the shared database does.
            local = (
                PolicyEngine.from_settings(settings, store=store, events=events) if store else None
            )
            decider = RemoteDecider.from_settings(settings, local=local)
        else:
            # Channel policy decides (its fail mode and LLM deadline default to the LLM_*
            # settings); its blocked and permitted terms go to every stage's rule engine.
            engine = PolicyEngine.from_settings(settings, store=store, events=events)
            engine.set_terms_hook(
                push_terms_to([s.rule_engine for s in stages if hasattr(s, "rule_engine")])
            )
            decider = engine
        router = Router(stage_thresholds(stages))
        return cls(
            settings=settings,
            pipeline=Pipeline(stages, router),
            decider=decider,
            policy=engine,
            store=store,
            events=events,
        )

    def deadline_for(self, channel_id: str) -> float:
        """Seconds `/moderate` waits for the adjudicator in this channel before answering with
        a provisional decision. The channel's policy (`llm_deadline_ms`) overrides the setting
        once the policy engine has loaded it."""
        deadline_ms = self.decider.deadline_ms(channel_id)
        if deadline_ms is not None:
            return deadline_ms / 1000
        return self.settings.llm_deadline_ms / 1000

    async def start(self) -> None:
        """Start every part. A database that does not answer does not stop the start:
        moderation goes on and the store keeper migrates when it is back. Decisions a previous
        run left provisional (or spooled) are finalised in the background."""
        await self.pipeline.start()
        await self._warm_up()
        if self.keeper is not None:
            await self.keeper.start()
        await self.decider.start(metrics=self.metrics.registry)
        if self.retention is not None:
            self.retention.start()

    async def _warm_up(self) -> None:
        """Run one harmless message through the fast tier so that lazy loading (models, term
        automata, phone metadata) happens at start, not on the first user's message."""
        warm = [Message(text=t, user_id="chatguard", channel_id="chatguard") for t in WARM_UP]
        run = await self.pipeline.begin(warm, {STATELESS: True})
        run.provisional()

    async def close(self) -> None:
        if self.retention is not None:
            await self.retention.close()
        # Let escalations in flight land briefly, then stop them: the provisional decision stands.
        if self._followups:
            await asyncio.wait(set(self._followups), timeout=1.0)
        for task in list(self._followups):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.keeper is not None:
            await self.keeper.close()
        await self.decider.close()
        await self.pipeline.close()
        if self.store is not None:
            await self.store.close()
        await self.events.close()

    def validate(self, message: Message) -> None:
        limit = self.settings.max_message_chars
        if len(message.text) > limit:
            self.metrics.rejected.labels("too_large").inc()
            raise InputTooLargeError(
                f"message is {len(message.text)} characters; the limit is {limit}"
            )
        for field_name in ("id", "user_id", "channel_id"):
            value = getattr(message, field_name)
            if not value or len(value) > 128:
                raise InvalidInputError(f"{field_name} must be 1 to 128 characters")
            require_identifier(value, field_name)
        require_valid_unicode(message.text, "message")

    def check_batch_size(self, size: int) -> None:
        """Refuse a batch over MAX_BATCH_SIZE (413)."""
        if size > self.settings.max_batch_size:
            self.metrics.rejected.labels("batch_too_large").inc()
            raise InputTooLargeError(
                f"batch of {size} messages; the limit is {self.settings.max_batch_size}"
            )

    async def moderate(self, message: Message) -> Outcome:
        return (await self.moderate_batch([message]))[0]

    async def moderate_batch(self, messages: Sequence[Message]) -> list[Outcome]:
        """Moderate messages together (one pass of the cascade); answers match the input order.
        A message id seen before gets its stored decision back, not a second one."""
        self.check_batch_size(len(messages))
        for message in messages:
            self.validate(message)
        fairness = self.fairness
        if not fairness.is_bulk(len(messages)):
            with fairness.other_request():
                return await self._moderate_chunk(messages)
        # A larger batch goes chunk by chunk, in fair turns with other batches, so that single
        # requests wait for the chunks in progress at most; the chunks are small while such
        # requests are here (`chatguard.fairness`).
        outcomes: list[Outcome] = []
        caller = fairness.caller()
        start = 0
        while start < len(messages):
            async with fairness.turn(caller):
                end = start + fairness.chunk_size()
                outcomes.extend(await self._moderate_chunk(messages[start:end]))
            start = end
        return outcomes

    async def _moderate_chunk(self, messages: Sequence[Message]) -> list[Outcome]:
        started = time.perf_counter()
        replays = await self._stored(messages)
        fresh = [m for m in messages if m.id not in replays]
        decided, run = await self._decide(fresh, started) if fresh else ({}, None)
        applied: dict[str, Applied] = {}
        stored = True
        # The stored response is the answer too: serialised once.
        entries = {i: Entry.of(d.message, d.decision, d.effects) for i, d in decided.items()}
        if self.keeper is not None and entries:
            persisted = await self.keeper.persist(list(entries.values()))
            replays.update(persisted.existing)
            applied, stored = persisted.applied, persisted.stored
        outcomes = []
        provisional: dict[str, Message] = {}
        announced: set[str] = set()
        for message in messages:
            if message.id in replays:
                outcomes.append(Outcome(replays[message.id].response, replayed=True))
                continue
            item = decided[message.id]
            decision = item.decision
            outcomes.append(Outcome(entries[message.id].response, decision=decision))
            if message.id in announced:
                continue  # the same message twice in one batch: one decision, one set of effects
            announced.add(message.id)
            self.metrics.observe(decision)
            self.channels.record(
                message,
                decision.action,
                provisional=decision.provisional,
                strike=decision.policy_reason is not PolicyReason.CRISIS,
            )
            if decision.provisional:
                provisional[message.id] = message
            await self._announce(item, applied.get(message.id), stored=stored)
        if run is not None and provisional:
            by_id = {i: d.decision for i, d in decided.items()}
            self._follow_up(run, provisional, by_id, started)
        return outcomes

    async def _announce(self, item: _Decided, applied: Applied | None, *, stored: bool) -> None:
        """A decision won its transaction (or went to the spool): count it, send its outbox
        rows and publish its events (review events first, then the decision)."""
        if applied is None:
            # Spooled: the review item is stored with the decision later; its event is news now.
            review = item.effects.review
            applied = Applied(events=(held_event(review),) if review is not None else ())
        self.decider.committed(Planned(item.decision, item.effects), applied, stored=stored)
        for event in applied.events:
            await self.events.publish(DECISIONS_TOPIC, from_client_form(event))
        await self._publish_decision(item)

    async def _flushed(self, kind: str, entry: Entry, applied: Applied) -> None:
        """A spooled entry reached the database: send what its transaction put in the outbox.
        Its events went out when it was spooled, except those the store made (a supersession
        of a spooled final decision)."""
        self.decider.settled(applied)
        if kind == FINAL:
            for event in applied.events:
                await self.events.publish(DECISIONS_TOPIC, from_client_form(event))

    async def _stored(self, messages: Sequence[Message]) -> dict[str, StoredDecision]:
        if self.keeper is None:
            return {}
        stored = await self.keeper.stored([m.id for m in messages])
        for message in messages:
            if message.id in stored:
                check_same_text(stored[message.id], message)
        return stored

    async def _decide(
        self, messages: Sequence[Message], started: float
    ) -> tuple[dict[str, _Decided], asyncio.Task[list[Assessment]] | None]:
        """Decisions for `messages`, waiting for the adjudicator up to the deadline. Past it,
        waiting messages get provisional decisions and the still-running escalation is
        returned, to be followed up."""
        unique: dict[str, Message] = {}
        for message in messages:
            unique.setdefault(message.id, message)
        batch = list(unique.values())
        run = await self.pipeline.begin(batch, {CHANNEL_CONTEXT: self.channels})
        await self._escalating(run, batch)
        assessments, running = await self._await_escalation(run, batch)
        if self.events.listened(ASSESSMENTS_TOPIC):
            await self.events.publish_many(
                ASSESSMENTS_TOPIC,
                [
                    MessageAssessed(channel_id=m.channel_id, user_id=m.user_id, assessment=a)
                    for m, a in zip(batch, assessments, strict=True)
                ],
            )
        planned = await self._plan(list(zip(batch, assessments, strict=True)), final=False)
        decided = {m.id: self._decided(m, p, started) for m, p in zip(batch, planned, strict=True)}
        return decided, running

    async def _escalating(self, run: PipelineRun, batch: list[Message]) -> None:
        """Announce the messages the fast tier left to the escalation stages."""
        waiting = set(run.waiting)
        if not waiting or not self.events.listened(ESCALATIONS_TOPIC):
            return
        requests = [
            EscalationRequested(
                message_id=message.id,
                channel_id=message.channel_id,
                user_id=message.user_id,
                stages=assessment.pending,
                scores=dict(assessment.scores),
            )
            for assessment, message in zip(run.provisional(), batch, strict=True)
            if message.id in waiting
        ]
        await self.events.publish_many(ESCALATIONS_TOPIC, requests)

    def _decided(
        self, message: Message, planned: Planned, started: float, *, final: bool = False
    ) -> _Decided:
        elapsed = (time.perf_counter() - started) * 1000
        decision = self._complete(message, planned.decision, elapsed)
        event = _event(message, decision, final=final) if self.decider.writes_outbox else None
        deliveries = self.decider.outbox(event) if event is not None else ()
        effects = planned.effects.with_deliveries(deliveries) if deliveries else planned.effects
        return _Decided(message, decision, effects, event, final)

    async def _publish_decision(self, item: _Decided) -> None:
        """The decision's event on the decisions topic; not even made when nobody here can
        read it (in process, no subscriber: building and validating it cost microseconds a
        message)."""
        if item.event is None and not self.events.listened(DECISIONS_TOPIC):
            return
        event = item.event or _event(item.message, item.decision, final=item.final)
        await self.events.publish(DECISIONS_TOPIC, event)

    async def _plan(self, items: list[tuple[Message, Assessment]], *, final: bool) -> list[Planned]:
        offline = self.keeper is not None and not self.keeper.online
        return await self.decider.plan_many(items, final=final, offline=offline)

    async def _await_escalation(
        self, run: PipelineRun, batch: list[Message]
    ) -> tuple[list[Assessment], asyncio.Task[list[Assessment]] | None]:
        waiting = set(run.waiting)
        if not waiting:
            return await run.finish(), None
        # The strictest channel in the batch sets the deadline.
        deadline = min(self.deadline_for(m.channel_id) for m in batch if m.id in waiting)
        task = asyncio.ensure_future(run.finish())
        done, _ = await asyncio.wait({task}, timeout=deadline)
        if task in done:
            return task.result(), None
        return run.provisional(), task

    def _follow_up(
        self,
        running: asyncio.Task[list[Assessment]],
        messages: dict[str, Message],
        provisional: dict[str, Decision],
        started: float,
    ) -> None:
        task = asyncio.ensure_future(self._finalize(running, messages, provisional, started))
        self._followups.add(task)
        task.add_done_callback(self._followups.discard)

    async def _finalize(
        self,
        running: asyncio.Task[list[Assessment]],
        messages: dict[str, Message],
        provisional: dict[str, Decision],
        started: float,
    ) -> None:
        """When the escalation lands: decide again, replace the stored provisional decisions and
        publish the final ones."""
        try:
            assessments = await running
        except asyncio.CancelledError:
            running.cancel()
            raise
        except Exception as exc:  # the pipeline turns stage failures into results; be safe
            log.warning("escalation failed after the deadline: %s", type(exc).__name__)
            return
        for assessment in assessments:
            message = messages.get(assessment.message_id)
            if message is None:
                continue
            try:
                await self._final(message, assessment, provisional[message.id], started)
            except Exception as exc:  # one message's failure must not lose the others'
                log.warning(
                    "final decision for %s failed: %s", message.id, type(exc).__name__, exc_info=exc
                )

    async def _final(
        self, message: Message, assessment: Assessment, earlier: Decision, started: float
    ) -> bool:
        """Decide again on the finished assessment and replace the stored provisional
        decision, with the final decision's effects, in one transaction; publish only if
        this replacement won (another process or a retry may have finalised it)."""
        [planned] = await self._plan([(message, assessment)], final=True)
        item = self._decided(message, planned, started, final=True)
        decision = item.decision
        applied = Applied()
        stored = True
        if self.keeper is not None:
            result = await self.keeper.finalize(Entry.of(message, decision, item.effects))
            if result is None:
                return False
            applied, stored = result, not result.spooled
        self.metrics.observe_final(decision, earlier)
        if self.events.listened(ASSESSMENTS_TOPIC):
            await self.events.publish(
                ASSESSMENTS_TOPIC,
                MessageAssessed(
                    channel_id=message.channel_id, user_id=message.user_id, assessment=assessment
                ),
            )
        crisis = decision.policy_reason is PolicyReason.CRISIS
        if decision.action.removes_message and not decision.provisional and not crisis:
            self.channels.add_strike(message.channel_id, message.user_id)
        self.decider.committed(Planned(decision, item.effects), applied, stored=stored)
        for event in applied.events:
            await self.events.publish(DECISIONS_TOPIC, from_client_form(event))
        await self._publish_decision(item)
        return True

    async def recover_provisional(self, *, batch_size: int = 200) -> int:
        """Finalise the decisions an earlier run left provisional (it stopped before the
        adjudicator answered): run the cascade again on the stored text, without touching
        per-user state, and replace each decision with its effects, exactly once. Returns how
        many were finalised."""
        if self.store is None:
            return 0
        before = datetime.fromtimestamp(self.started_at, UTC)
        total = 0
        while True:
            rows = await self.store.provisional(before=before, limit=batch_size)
            if not rows:
                return total
            messages = [m for m, _ in rows]
            run = await self.pipeline.begin(messages, {STATELESS: True})
            assessments = await run.finish()
            done = 0
            for (message, response), assessment in zip(rows, assessments, strict=True):
                earlier = _stored_decision(message, response)
                if await self._final(message, assessment, earlier, time.perf_counter()):
                    done += 1
            total += done
            self.storage_metrics.recovered.inc(done)
            if done:
                log.info("finalised %d provisional decisions of an earlier run", done)
            if done == 0:  # what is left cannot be finalised now (still provisional)
                return total

    def _complete(self, message: Message, decision: Decision, elapsed_ms: float) -> Decision:
        return _complete_decision(message, decision, elapsed_ms, self.settings.pii_redaction)

    async def wait_for_followups(self, timeout: float | None = None) -> None:
        """Wait until the escalations running past their deadline have landed (for tests,
        shutdown and benchmarks)."""
        if self._followups:
            await asyncio.wait(set(self._followups), timeout=timeout)

    async def assess_texts(self, texts: Sequence[str]) -> list[Assessment]:
        """Assess bare texts without storing them or touching per-user state."""
        for text in texts:
            require_valid_unicode(text, "input")
            if len(text) > self.settings.max_message_chars:
                self.metrics.rejected.labels("too_large").inc()
                raise InputTooLargeError(
                    f"an input is {len(text)} characters; the limit is "
                    f"{self.settings.max_message_chars}"
                )
        messages = [Message(text=t, user_id="api", channel_id="api") for t in texts]
        return await self.pipeline.assess(messages, context={STATELESS: True})

    async def health(self) -> list[ComponentHealth]:
        components = list(self.pipeline.health())
        if self.store is not None and self.keeper is not None:
            ok = await self.store.ping()
            spool = self.keeper.spool
            waiting = len(spool) if spool is not None else 0
            detail = self.store.dialect
            if not ok:
                detail += " unreachable"
            if waiting:
                detail += f"; {waiting} decisions spooled"
            if not ok and not self.keeper.refusing:
                detail += "; moderation goes on"
            # Moderation needs the database only when it cannot spool.
            essential = spool is None or spool.full
            components.append(ComponentHealth("database", ok, detail, essential=essential))
        decider_health = self.decider.health()
        if decider_health is not None:
            components.append(decider_health)
        for component in components:
            self.metrics.component_up.labels(component.name).set(1 if component.ok else 0)
        return components


def require_valid_unicode(text: str, field_name: str) -> None:
    """Refuse text no database can store: lone surrogates (from `\\ud800`-style JSON escapes)
    and NUL (`chatguard.input_rules`)."""
    problem = text_problem(text)
    if problem:
        raise InvalidInputError(f"{field_name} {problem}")


def require_identifier(value: str, field_name: str) -> None:
    """Refuse an id with a control character or a lone surrogate (`chatguard.input_rules`)."""
    problem = identifier_problem(value)
    if problem:
        raise InvalidInputError(f"{field_name} {problem}")


def stage_thresholds(stages: Sequence[Any]) -> Thresholds:
    """The router's thresholds: defaults, overridden by what stages trained on data provide
    (a stage with a `thresholds()` method, such as the classifier)."""
    thresholds = Thresholds()
    for stage in stages:
        provided = getattr(stage, "thresholds", None)
        if callable(provided):
            thresholds = thresholds.merged(provided())
    return thresholds


def _complete_decision(
    message: Message, decision: Decision, elapsed_ms: float, redaction: str
) -> Decision:
    """The decision with its processing time and, when PII redaction is on and PII was found,
    the redacted text (which is also what the store keeps)."""
    redacted = None
    if redaction != "off" and any(s.category is Category.PII for s in decision.assessment.spans):
        redacted = apply_redaction(message.text, decision.assessment.spans, redaction)
    return replace(decision, processing_time_ms=elapsed_ms, redacted_text=redacted)


def _stored_decision(message: Message, response: dict[str, Any]) -> Decision:
    """The stored (provisional) decision, as much of it as the final one is measured against."""
    assessment = Assessment(
        message_id=message.id,
        scores={},
        route=Route(response.get("route", "uncertain")),
        decided_by=str(response.get("decided_by", "")),
    )
    return Decision(
        message_id=message.id,
        action=Action(response["action"]),
        reason=str(response.get("reason", "")),
        assessment=assessment,
        provisional=True,
    )


def _event(message: Message, decision: Decision, *, final: bool = False) -> DecisionMade:
    # Events carry ids, scores and the action; never the raw text.
    return DecisionMade(
        message_id=message.id,
        channel_id=message.channel_id,
        user_id=message.user_id,
        action=decision.action,
        duration_s=decision.duration_s,
        reason=decision.reason,
        policy=decision.policy,
        decided_by=decision.assessment.decided_by,
        flagged=decision.assessment.flagged,
        acted=decision.acted,
        policy_reason=decision.policy_reason.value,
        policy_category=decision.policy_category.value if decision.policy_category else None,
        notice=decision.notice,
        provisional=decision.provisional,
        supersedes_provisional=final,
    )
