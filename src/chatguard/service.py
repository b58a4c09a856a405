"""The moderation service: the pipeline, the decider, the store, the event bus and the metrics
wired together. Adapters (HTTP, CLI, MCP, connectors) call this and nothing deeper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from chatguard.channel import CHANNEL_CONTEXT, ChannelMemory
from chatguard.config import Settings
from chatguard.decide import Decider, ThresholdDecider
from chatguard.decisions import PolicyEngine
from chatguard.decisions.terms import push_terms_to
from chatguard.domain import Assessment, Decision, Message
from chatguard.errors import InputTooLargeError, InvalidInputError
from chatguard.events import EventBus, InProcessEventBus
from chatguard.filter.pii import apply_redaction
from chatguard.input_rules import identifier_problem, text_problem
from chatguard.metrics import ModerationMetrics
from chatguard.pipeline import Pipeline, Router, Thresholds
from chatguard.pipeline.pipeline import PipelineRun
from chatguard.pipeline.registry import build_stage
from chatguard.pipeline.stage import ComponentHealth
from chatguard.retention import RetentionJob
from chatguard.serialize import decision_dict
from chatguard.storage import SqlStore
from chatguard.storage.store import check_same_text
from chatguard.taxonomy import Category

log = logging.getLogger(__name__)

DECISIONS_TOPIC = "decisions"
#: Event type of the decision that replaces a provisional one.
FINAL_DECISION = "decision.final"
#: Texts that touch every fast detector once at start (email, phone, link, emote, caps).
WARM_UP = ("hello chat, mail a@b.co or call +1 415 555 0132, see https://x.io PogChamp LOL",)
#: Context key telling stateful stages (rate, flood, strikes) to leave their state alone.
STATELESS = "stateless"


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
        store: SqlStore | None = None,
        events: EventBus | None = None,
        metrics: ModerationMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.decider = decider or ThresholdDecider()
        self.store = store
        self.events = events or InProcessEventBus()
        self.metrics = metrics or ModerationMetrics()
        self.channels = ChannelMemory(history=max(settings.llm_context_messages, 1))
        self.started_at = time.time()
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

    @classmethod
    def from_settings(cls, settings: Settings, *, with_store: bool = True) -> ModerationService:
        stages = [build_stage(name, settings) for name in settings.stage_names]
        store = SqlStore(settings.database_url) if with_store else None
        events = InProcessEventBus()
        # Channel policy decides (its fail mode and LLM deadline default to the LLM_* settings);
        # its blocked and permitted terms go to every stage's rule engine.
        decider = PolicyEngine.from_settings(settings, store=store, events=events)
        decider.set_terms_hook(
            push_terms_to([s.rule_engine for s in stages if hasattr(s, "rule_engine")])
        )
        router = Router(stage_thresholds(stages))
        return cls(
            settings=settings,
            pipeline=Pipeline(stages, router),
            decider=decider,
            store=store,
            events=events,
        )

    def deadline_for(self, channel_id: str) -> float:
        """Seconds `/moderate` waits for the adjudicator in this channel before answering with
        a provisional decision. The channel's policy (`llm_deadline_ms`) overrides the setting
        once the policy engine has loaded it."""
        if isinstance(self.decider, PolicyEngine):
            deadline_ms = self.decider.deadline_ms(channel_id)
            if deadline_ms is not None:
                return deadline_ms / 1000
        return self.settings.llm_deadline_ms / 1000

    async def start(self) -> None:
        if self.store is not None:
            await self.store.start()
        await self.pipeline.start()
        await self._warm_up()
        if isinstance(self.decider, PolicyEngine):
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
        if isinstance(self.decider, PolicyEngine):
            await self.decider.close()
        await self.pipeline.close()
        if self.store is not None:
            await self.store.close()

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

    async def moderate(self, message: Message) -> Outcome:
        return (await self.moderate_batch([message]))[0]

    async def moderate_batch(self, messages: Sequence[Message]) -> list[Outcome]:
        """Moderate messages together (one pass of the cascade); answers match the input order.
        A message id seen before gets its stored decision back, not a second one."""
        if len(messages) > self.settings.max_batch_size:
            self.metrics.rejected.labels("batch_too_large").inc()
            raise InputTooLargeError(
                f"batch of {len(messages)} messages; the limit is {self.settings.max_batch_size}"
            )
        for message in messages:
            self.validate(message)
        started = time.perf_counter()
        replays = await self._stored(messages)
        fresh = [m for m in messages if m.id not in replays]
        decisions, run = await self._decide(fresh, started) if fresh else ([], None)
        if self.store is not None and decisions:
            replays.update(await self.store.save(list(zip(fresh, decisions, strict=True))))
        by_id = {d.message_id: d for d in decisions}
        outcomes = []
        provisional: dict[str, Message] = {}
        for message in messages:
            if message.id in replays:
                outcomes.append(Outcome(replays[message.id].response, replayed=True))
                continue
            decision = by_id[message.id]
            outcomes.append(Outcome(decision_dict(decision), decision=decision))
            self.metrics.observe(decision)
            self.channels.record(message, decision.action, provisional=decision.provisional)
            if decision.provisional:
                provisional[message.id] = message
            await self.events.publish(DECISIONS_TOPIC, _event(message, decision))
        if run is not None and provisional:
            self._follow_up(run, provisional, by_id, started)
        return outcomes

    async def _stored(self, messages: Sequence[Message]) -> dict[str, Any]:
        if self.store is None:
            return {}
        stored = await self.store.get_many([m.id for m in messages])
        for message in messages:
            if message.id in stored:
                check_same_text(stored[message.id], message)
        return stored

    async def _decide(
        self, messages: Sequence[Message], started: float
    ) -> tuple[list[Decision], asyncio.Task[list[Assessment]] | None]:
        """Decisions for `messages`, waiting for the adjudicator up to the deadline. Past it,
        waiting messages get provisional decisions and the still-running escalation is
        returned, to be followed up."""
        unique: dict[str, Message] = {}
        for message in messages:
            unique.setdefault(message.id, message)
        batch = list(unique.values())
        run = await self.pipeline.begin(batch, {CHANNEL_CONTEXT: self.channels})
        assessments, running = await self._await_escalation(run, batch)
        decisions = {}
        for message, assessment in zip(batch, assessments, strict=True):
            decision = await self.decider.decide(message, assessment)
            elapsed = (time.perf_counter() - started) * 1000
            decisions[message.id] = self._complete(message, decision, elapsed)
        return [decisions[m.id] for m in messages], running

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
    ) -> None:
        decision = self._complete(
            message,
            await self.decider.decide(message, assessment),
            (time.perf_counter() - started) * 1000,
        )
        if self.store is not None:
            await self.store.replace_provisional(message, decision)
        self.metrics.observe_final(decision, earlier)
        if decision.action.removes_message and not decision.provisional:
            self.channels.add_strike(message.channel_id, message.user_id)
        await self.events.publish(DECISIONS_TOPIC, _event(message, decision, kind=FINAL_DECISION))

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
        if self.store is not None:
            ok = await self.store.ping()
            components.append(ComponentHealth("database", ok, self.store.dialect))
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


def _event(message: Message, decision: Decision, *, kind: str = "decision") -> dict[str, Any]:
    # Events carry ids, scores and the action; never the raw text.
    return {
        "type": kind,
        "message_id": message.id,
        "channel_id": message.channel_id,
        "user_id": message.user_id,
        "action": decision.action.value,
        "duration_s": decision.duration_s,
        "reason": decision.reason,
        "policy": decision.policy,
        "decided_by": decision.assessment.decided_by,
        "flagged": decision.assessment.flagged,
        "provisional": decision.provisional,
        "at": time.time(),
    }
