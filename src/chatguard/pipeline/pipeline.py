"""The cascade: run stages cheapest first, stop each message as soon as the router is sure."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatguard.domain import Assessment, Message, Route, Span, StageResult, StageTrace
from chatguard.errors import BackpressureError
from chatguard.normalize import normalize
from chatguard.pipeline.router import Router
from chatguard.pipeline.stage import ComponentHealth, Stage, StageInput
from chatguard.taxonomy import Category

log = logging.getLogger(__name__)

#: Calls of `begin` with fewer messages than this that arrive while the event loop is busy
#: share one pass of the fast tier (see `Pipeline.begin`).
TOGETHER_BELOW = 64


@dataclass(slots=True)
class _Work:
    """Mutable per-message state while the message is in the cascade."""

    message: Message
    item: StageInput
    scores: dict[Category, float] = field(default_factory=dict)
    results: list[StageResult] = field(default_factory=list)
    trail: list[StageTrace] = field(default_factory=list)
    route: Route = Route.UNCERTAIN
    decided_by: str = ""
    escalated: bool = False
    escalation_failed: bool = False
    review: bool = False
    done: bool = False

    def merge(self, result: StageResult) -> None:
        self.results.append(result)
        if result.review:
            self.review = True
        new = result.scores
        if not new:
            return
        scores = self.scores
        if result.authoritative or not scores:  # replacing, or nothing to compare with
            scores.update(new)
            return
        for category, score in new.items():
            if score > scores.get(category, 0.0):
                scores[category] = score

    def source_of(self, category: Category) -> str | None:
        """The stage whose result gave `category` its current score (looked up only for the
        few messages that act, instead of being tracked for every score of every message)."""
        score = self.scores.get(category)
        found = None
        for result in self.results:
            if result.error is None and result.scores.get(category) == score:
                found = result.stage
                if not result.authoritative:
                    break  # by maximum, the first stage to reach the score set it
        return found


class Pipeline:
    """Runs messages through `stages` in order; `router` decides after each stage."""

    def __init__(self, stages: Sequence[Stage], router: Router | None = None) -> None:
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"a stage appears twice in the pipeline: {names}")
        self.stages = list(stages)
        self.router = router or Router()
        self._flag_map = self.router.thresholds.flag_map()  # fixed per router: build once
        for stage in self.stages:
            stage.use_thresholds(self.router.thresholds)
        # A stage that cannot clear does not settle a message either while a later fast stage
        # can still clear it: the model behind it then scores every category, so the verdict
        # (and `flagged`) does not depend on which detector happened to fire first.
        self._settles = [
            stage.can_clear
            or not any(s.can_clear and not s.escalation for s in self.stages[i + 1 :])
            for i, stage in enumerate(self.stages)
        ]
        #: The fast tier's length: every stage before the first escalation stage.
        self._fast = next((i for i, s in enumerate(self.stages) if s.escalation), len(stages))
        #: Per position, the later fast stages that may keep a settled message open.
        self._reopening = [
            [s for s in self.stages[i + 1 : self._fast] if type(s).reopens is not Stage.reopens]
            for i in range(len(self.stages))
        ]
        #: Small calls waiting for the next shared pass, and the task that will run it.
        self._waiting: list[tuple[list[_Work], asyncio.Future[None]]] = []
        self._together: asyncio.Task[None] | None = None

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    async def start(self) -> None:
        for stage in self.stages:
            await stage.start()

    async def close(self) -> None:
        for stage in self.stages:
            await stage.close()

    def health(self) -> list[ComponentHealth]:
        """Each stage, then what the stages depend on (once per name: stages may share one)."""
        components = [stage.health() for stage in self.stages]
        named = {c.name for c in components}
        for stage in self.stages:
            for dependency in stage.dependencies_health():
                if dependency.name not in named:
                    named.add(dependency.name)
                    components.append(dependency)
        return components

    async def assess(
        self, messages: Sequence[Message], context: Mapping[str, Any] | None = None
    ) -> list[Assessment]:
        """Assess every message; the result list matches `messages` in order."""
        run = await self.begin(messages, context)
        return await run.finish()

    async def begin(
        self, messages: Sequence[Message], context: Mapping[str, Any] | None = None
    ) -> PipelineRun:
        """Run the fast tier (every stage before the first escalation stage). The returned run
        tells which messages wait for escalation and finishes the cascade when awaited."""
        works = [
            _Work(m, StageInput(m, normalize(m.text), context=context or {})) for m in messages
        ]
        if len(works) < TOGETHER_BELOW:
            await self._fast_tier_together(works)
        else:
            await self._fast_tier(works)
        return PipelineRun(self, works, self._fast)

    async def _fast_tier(self, works: list[_Work]) -> None:
        for position in range(self._fast):
            await self._run_position(works, position)
        if self._fast < len(self.stages):
            self._admit_to_escalation([w for w in works if not w.done])

    async def _fast_tier_together(self, works: list[_Work]) -> None:
        """Run the fast tier for `works` together with the other small calls that reach here
        before the event loop gets to the shared pass (the requests it is handling at the
        same time). The fast stages cost mostly per call, not per message: the classifier
        takes about as long for ten messages as for one, so under load the requests share
        its calls instead of queueing behind one each. Each message's results are its own
        (every stage judges the messages of a batch one by one, in order); a call waits one
        turn of the loop at most, and with nobody else waiting its pass is its own."""
        loop = asyncio.get_running_loop()
        together = self._together
        if together is not None and (together.done() or together.get_loop() is not loop):
            # A pass of a loop that ended before running it: what waited for it is gone.
            together, self._together, self._waiting = None, None, []
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((works, done))
        if together is None:
            self._together = loop.create_task(self._run_together())
        await done

    async def _run_together(self) -> None:
        await asyncio.sleep(0)  # one more turn of the loop: the requests it is reading join
        waiting, self._waiting, self._together = self._waiting, [], None
        works = [w for call, _ in waiting for w in call]
        try:
            await self._fast_tier(works)
        except asyncio.CancelledError:
            for _, done in waiting:
                done.cancel()
            raise
        except Exception as exc:
            for _, done in waiting:
                if not done.done():
                    done.set_exception(exc)
            return
        for _, done in waiting:
            if not done.done():
                done.set_result(None)

    async def _run_position(self, works: list[_Work], position: int) -> None:
        stage = self.stages[position]
        pending = [w for w in works if not w.done]
        if stage.escalation:
            pending = self._admit_to_escalation(pending)
        if not pending:
            return
        results = await self._run_stage(stage, pending)
        is_last = position == len(self.stages) - 1
        settles = self._settles[position]
        self._apply(pending, stage, results, is_last=is_last, settles=settles)
        if settles and self._reopening[position]:
            self._reopen(pending, self._reopening[position])

    @staticmethod
    def _reopen(works: list[_Work], stages: list[Stage]) -> None:
        """Messages a later fast stage wants whatever the router said stay in the cascade."""
        for work in works:
            if work.done and any(s.reopens(work.item) for s in stages):
                work.done, work.route = False, Route.UNCERTAIN

    def _admit_to_escalation(self, pending: list[_Work]) -> list[_Work]:
        """Only messages in the uncertain band go to the adjudicator; the rest are settled here."""
        admitted = []
        for work in pending:
            route = self.router.route(work.scores, can_clear=True)
            if route is Route.UNCERTAIN:
                work.escalated = True
                admitted.append(work)
            else:
                self._finish(work, route, work.decided_by or "none")
        return admitted

    async def _run_stage(self, stage: Stage, pending: list[_Work]) -> list[StageResult]:
        inputs = [
            # Stages read `scores` and never change it: no copy per message and stage.
            StageInput(w.message, w.item.normalized, w.scores, tuple(w.results), w.item.context)
            if w.results
            else w.item  # nothing found yet: the first input serves as it is
            for w in pending
        ]
        started = time.perf_counter()
        try:
            if stage.inline(len(inputs)):
                results = stage.assess_sync(inputs)
            else:
                async with asyncio.timeout(stage.timeout_s):
                    results = await stage.assess(inputs)
            if len(results) != len(inputs):
                raise RuntimeError(f"returned {len(results)} results for {len(inputs)} inputs")
        except TimeoutError:
            results = self._failed(stage, pending, f"timed out after {stage.timeout_s:g}s", started)
        except BackpressureError:
            raise  # the work is refused, not failed: the caller is told to come back
        except Exception as exc:  # a failing stage must not stop moderation
            log.warning("stage %s failed: %s", stage.name, type(exc).__name__, exc_info=exc)
            results = self._failed(stage, pending, f"{type(exc).__name__}: {exc}", started)
        return results

    @staticmethod
    def _failed(
        stage: Stage, pending: list[_Work], error: str, started: float
    ) -> list[StageResult]:
        latency = (time.perf_counter() - started) * 1000
        return [StageResult(stage.name, latency_ms=latency, error=error) for _ in pending]

    def _apply(
        self,
        pending: list[_Work],
        stage: Stage,
        results: list[StageResult],
        *,
        is_last: bool,
        settles: bool,
    ) -> None:
        """Merge a stage's results and route each message. One loop for the whole batch, with
        the lookups hoisted: this runs for every message after every stage."""
        name, escalation = stage.name, stage.escalation
        can_clear = stage.can_clear or is_last
        may_finish = settles or is_last
        route_of, trigger_of = self.router.route, self.router.trigger
        for work, result in zip(pending, results, strict=True):
            decided_by = name
            if result.error is None:
                work.merge(result)
                route = route_of(work.scores, can_clear=can_clear)
                if route is Route.ACT:
                    trigger = trigger_of(work.scores)
                    if trigger is not None:
                        decided_by = work.source_of(trigger) or name
                work.decided_by = decided_by
            else:
                work.results.append(result)
                work.escalation_failed = work.escalation_failed or escalation
                route = Route.UNCERTAIN
            found = result.scores
            top_category: Category | None = None
            top_score = 0.0
            if found:
                top = max(found, key=found.__getitem__)
                top_category, top_score = top, found[top]
            work.trail.append(
                StageTrace(name, result.latency_ms, route, top_category, top_score, result.error)
            )
            if route is not Route.UNCERTAIN and may_finish:
                work.route, work.decided_by, work.done = route, decided_by, True

    @staticmethod
    def _finish(work: _Work, route: Route, decided_by: str) -> None:
        work.route, work.decided_by, work.done = route, decided_by, True

    def _assessment(self, work: _Work, pending: tuple[str, ...] = ()) -> Assessment:
        spans: tuple[Span, ...] = ()
        reasons: tuple[str, ...] = ()
        for result in work.results:
            if result.spans:
                spans += result.spans
            if result.reasons:
                reasons += result.reasons
        return Assessment(
            message_id=work.message.id,
            scores=dict(work.scores),
            route=work.route,
            decided_by=work.decided_by or "none",
            spans=spans,
            reasons=tuple(dict.fromkeys(reasons)) if len(reasons) > 1 else reasons,
            trail=tuple(work.trail),
            escalated=work.escalated or work.route is Route.UNCERTAIN,
            thresholds=self._flag_map,
            pending=pending,
            llm_unavailable=work.escalation_failed,
            review=work.review,
        )


class PipelineRun:
    """A pass through the cascade that has done its fast tier and may still have to escalate.

    `provisional()` gives the assessments as they stand (messages waiting for escalation name
    the stages still to run in `Assessment.pending`); `finish()` runs the rest.
    """

    def __init__(self, pipeline: Pipeline, works: list[_Work], position: int) -> None:
        self._pipeline = pipeline
        self._works = works
        self._position = position
        self._finished: list[Assessment] | None = None

    @property
    def waiting(self) -> list[str]:
        """Ids of the messages that still wait for a stage."""
        if self._finished is not None or self._position >= len(self._pipeline.stages):
            return []
        return [w.message.id for w in self._works if not w.done]

    def provisional(self) -> list[Assessment]:
        if self._finished is not None:
            return list(self._finished)
        remaining = tuple(s.name for s in self._pipeline.stages[self._position :])
        return [self._pipeline._assessment(w, () if w.done else remaining) for w in self._works]

    async def finish(self) -> list[Assessment]:
        """Run the remaining stages and return the final assessments, in input order."""
        if self._finished is not None:
            return list(self._finished)
        pipeline = self._pipeline
        for position in range(self._position, len(pipeline.stages)):
            if all(w.done for w in self._works):
                break
            await pipeline._run_position(self._works, position)
        for work in self._works:
            if not work.done:
                route = pipeline.router.final(work.scores)
                pipeline._finish(work, route, work.decided_by or "none")
        self._finished = [pipeline._assessment(w) for w in self._works]
        return list(self._finished)
