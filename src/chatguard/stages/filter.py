"""The lightweight filter as one stage: rules, PII, spam and prompt-injection detectors in one
pass over each message, sharing its normalization and skeleton.

`DetectorStage` is the base of this stage and of the single-detector stages (`rules`, `pii`,
`spam`, `prompt_injection`), for deployments that want them apart in the decision trail. Filter
stages only find things (`can_clear = False`): their silence proves nothing, but a severe hit
(a slur, a card number, a raid) reaches the act threshold and settles the message here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from chatguard.domain import StageResult
from chatguard.errors import ConfigurationError
from chatguard.filter.detection import (
    NOTHING,
    Detection,
    Detector,
    FilterInput,
    detect_many,
    prepare_many,
)
from chatguard.filter.failover import COMPONENT as REDIS_COMPONENT
from chatguard.filter.failover import FailoverSpamState
from chatguard.filter.injection import InjectionDetector
from chatguard.filter.pii import PiiDetector
from chatguard.filter.rules import RuleDetector, RuleEngine
from chatguard.filter.spam import SpamDetector
from chatguard.filter.speedups import native
from chatguard.filter.state import InMemorySpamState, RedisSpamState, SpamState
from chatguard.metrics import degraded_counter
from chatguard.pipeline.stage import ComponentHealth, Stage, StageInput

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from chatguard.config import Settings

log = logging.getLogger(__name__)


class DetectorStage(Stage):
    """Runs synchronous detectors, and optionally the spam detector, on each message."""

    can_clear = False
    #: Batches at least this large run in a worker thread instead of on the event loop.
    offload_at: ClassVar[int] = 256

    def __init__(
        self,
        *,
        detectors: Sequence[Detector] = (),
        spam: SpamDetector | None = None,
        timeout_s: float = 0.5,
    ) -> None:
        super().__init__(timeout_s=timeout_s)
        self.detectors = tuple(detectors)
        self.spam = spam
        self._degraded: Any = None  # the degraded counter's redis child, once registered

    @property
    def synchronous(self) -> bool:
        return self.spam is None or self.spam.synchronous

    def assess_sync(self, items: Sequence[StageInput]) -> list[StageResult]:
        """Assess without awaiting (every detector in-process)."""
        started = time.perf_counter()
        inputs = _inputs(items)
        columns = self._columns(inputs)
        if self.spam is not None:
            columns.append(self.spam.detect_many_now(inputs))
        return self._results(columns, len(inputs), started)

    def inline(self, count: int) -> bool:
        return self.synchronous and count < self.offload_at

    async def assess(self, items: Sequence[StageInput]) -> list[StageResult]:
        if self.synchronous:
            if self.inline(len(items)):
                return self.assess_sync(items)
            return await asyncio.to_thread(self.assess_sync, items)
        assert self.spam is not None
        started = time.perf_counter()
        inputs = _inputs(items)
        columns = self._columns(inputs)
        columns.append(await self._spam_column(self.spam, inputs))
        return self._results(columns, len(inputs), started)

    async def _spam_column(self, spam: SpamDetector, inputs: list[FilterInput]) -> list[Detection]:
        """The spam detector's findings; nothing when its state fails. The failover state
        does not raise, but a state that does (a custom one) must not take the rules, PII and
        prompt-injection findings of the batch down with it."""
        try:
            return await spam.detect_many(inputs)
        except Exception as exc:
            log.warning("spam windows failed, batch judged without them: %s", type(exc).__name__)
            if self._degraded is not None:
                self._degraded.inc()
            return [NOTHING] * len(inputs)

    def _columns(self, items: list[FilterInput]) -> list[list[Detection]]:
        """Each synchronous detector's findings for the batch."""
        if len(items) < _BATCH_FROM:  # a few messages: the batch screens cost more than they save
            return [[detector.detect(item) for item in items] for detector in self.detectors]
        return [detect_many(detector, items) for detector in self.detectors]

    def _results(
        self, columns: list[list[Detection]], count: int, started: float
    ) -> list[StageResult]:
        """Per message: nothing, the one finding, or the merge of the detectors' findings."""
        latency = (time.perf_counter() - started) * 1000 / max(count, 1)
        name = self.name
        # Results are immutable and the pipeline only reads them: one empty result serves
        # every message of the batch in which nothing was found.
        empty = StageResult(name, {}, (), (), latency_ms=latency)
        if not columns:
            return [empty] * count
        results = []
        silent = (NOTHING,) * len(columns)
        for row in zip(*columns, strict=True):
            # Most messages: every detector returned the shared NOTHING (the tuple comparison
            # checks identity first, at C level).
            if row == silent:
                results.append(empty)
                continue
            hits = [d for d in row if d is not NOTHING and d]
            if not hits:
                results.append(empty)
                continue
            found = hits[0] if len(hits) == 1 else Detection.merge(hits)
            results.append(
                StageResult(
                    name, dict(found.scores), found.spans, found.reasons, latency_ms=latency
                )
            )
        return results

    async def start(self) -> None:
        state = self.spam.state if self.spam is not None else None
        if isinstance(state, FailoverSpamState):
            await state.start()

    async def close(self) -> None:
        if self.spam is not None:
            await self.spam.state.close()

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """Count the spam windows' degraded operations on the service's registry."""
        self._degraded = degraded_counter(registry).labels(REDIS_COMPONENT)
        state = self.spam.state if self.spam is not None else None
        if isinstance(state, FailoverSpamState):
            state.bind_counter(self._degraded)

    def dependencies_health(self) -> list[ComponentHealth]:
        """Redis, when the spam windows live there: degraded, not down, while it is away."""
        state = self.spam.state if self.spam is not None else None
        return [state.health()] if isinstance(state, FailoverSpamState) else []

    def health(self) -> ComponentHealth:
        state = self.spam.state if self.spam is not None else None
        kind = "in-process" if self.synchronous else "redis"
        if isinstance(state, FailoverSpamState) and not state.up:
            kind = "in-process while redis is unavailable"
        names = [d.name for d in self.detectors] + (["spam"] if self.spam else [])
        detail = f"detectors: {', '.join(names)}; state: {kind}"
        if self.spam is not None:
            detail += f"; spam loops: {'compiled' if native is not None else 'Python'}"
        return ComponentHealth(self.name, True, detail)


#: Batches from this size on go through the detectors' batch screens.
_BATCH_FROM = 4


def _inputs(items: Sequence[StageInput]) -> list[FilterInput]:
    return prepare_many(
        [i.message for i in items], [i.normalized for i in items], [i.context for i in items]
    )


def spam_state_from_settings(settings: Settings) -> SpamState:
    """The spam windows' store the settings ask for (`SPAM_STATE`). Redis windows fall back
    to in-process ones while Redis is unavailable (see `FailoverSpamState`)."""
    if settings.spam_state == "redis":
        if not settings.redis_url:
            raise ConfigurationError("SPAM_STATE: 'redis' needs REDIS_URL to be set")
        return FailoverSpamState(primary=RedisSpamState(url=settings.redis_url))
    return InMemorySpamState()


class FilterStage(DetectorStage):
    """Every lightweight detector in one pass. `rule_engine` takes each channel's terms."""

    name = "filter"

    def __init__(
        self,
        *,
        rule_engine: RuleEngine | None = None,
        pii: PiiDetector | None = None,
        spam: SpamDetector | None = None,
        injection: InjectionDetector | None = None,
        timeout_s: float = 0.5,
    ) -> None:
        self.rule_engine = rule_engine or RuleEngine()
        detectors: list[Detector] = [
            RuleDetector(engine=self.rule_engine),
            pii or PiiDetector(),
            injection or InjectionDetector(),
        ]
        super().__init__(detectors=detectors, spam=spam or SpamDetector(), timeout_s=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> FilterStage:
        return cls(spam=SpamDetector(state=spam_state_from_settings(settings)))
