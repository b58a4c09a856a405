"""The one interface every moderation stage implements.

A stage receives a batch of `StageInput`s and returns one `StageResult` per input, in order.
CPU-bound stages subclass `CpuStage` and implement `assess_sync`; small batches run inline (the
work takes microseconds, a thread hop would cost more), large ones run off the event loop.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from chatguard.domain import Message, StageResult
from chatguard.normalize import NormalizedText
from chatguard.pipeline.router import Thresholds
from chatguard.taxonomy import Category

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


_EMPTY: Mapping[Any, Any] = MappingProxyType({})


class StageInput(NamedTuple):
    """A message on its way through the cascade, with what earlier stages found. Immutable; a
    named tuple because one is made per message per stage, and a tuple is the cheapest record
    to make (the empty defaults are shared, read-only mappings)."""

    message: Message
    normalized: NormalizedText
    scores: Mapping[Category, float] = _EMPTY
    results: tuple[StageResult, ...] = ()
    context: Mapping[str, Any] = _EMPTY


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    name: str
    ok: bool
    detail: str = ""
    #: Is moderation down without it? The LLM is not essential: the fast tier goes on.
    essential: bool = True


class Stage(ABC):
    """A moderation stage. Subclasses set `name` and implement `assess`."""

    name: ClassVar[str]
    #: May this stage's low scores allow a message? Rule stages only find things; their silence
    #: proves nothing, so they leave clearing to a model.
    can_clear: ClassVar[bool] = False
    #: Is this the expensive adjudicator? Reaching it counts as an escalation.
    escalation: ClassVar[bool] = False

    def __init__(self, *, timeout_s: float = 1.0) -> None:
        self.timeout_s = timeout_s

    @abstractmethod
    async def assess(self, items: Sequence[StageInput]) -> list[StageResult]:
        """Return one result per item, in order."""

    async def start(self) -> None:
        """Acquire resources (connections, models). Called once before the first batch."""

    async def close(self) -> None:
        """Release resources."""

    def health(self) -> ComponentHealth:
        return ComponentHealth(self.name, True)

    def dependencies_health(self) -> list[ComponentHealth]:
        """The health of what the stage relies on but can run without (a shared Redis), each
        named as its own component; most stages have none."""
        return []

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """Register the stage's own metrics on the service's registry (most stages have none)."""
        return None

    def use_thresholds(self, thresholds: Thresholds) -> None:
        """Told the router's thresholds once, when a pipeline is built around the stage (the
        LLM stage bounds its verdicts by them; most stages need not know)."""
        return None

    def reopens(self, item: StageInput) -> bool:
        """Does this stage want `item` even when the stages before it were sure of it? A fast
        stage that says so keeps the message open until it has run (the semantic tier reads
        every long message); the router then decides on its result. Most stages do not."""
        return False

    def inline(self, count: int) -> bool:
        """Does `assess` of `count` items run without awaiting anything? Then the pipeline
        calls `assess_sync` itself: a task and a timeout per stage and request cost more than
        the work, and a timeout could not stop work that never yields anyway."""
        return False

    def assess_sync(self, items: Sequence[StageInput]) -> list[StageResult]:
        """The synchronous assessment, for the stages whose `inline` says so."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, timeout_s={self.timeout_s})"


class CpuStage(Stage):
    """A stage whose work is pure CPU. Implement `assess_sync`."""

    #: Batches at least this large run in a worker thread instead of on the event loop.
    offload_at: ClassVar[int] = 256

    @abstractmethod
    def assess_sync(self, items: Sequence[StageInput]) -> list[StageResult]:
        """Return one result per item, in order."""

    def inline(self, count: int) -> bool:
        return count < self.offload_at

    async def assess(self, items: Sequence[StageInput]) -> list[StageResult]:
        if self.inline(len(items)):
            return self.assess_sync(items)
        return await asyncio.to_thread(self.assess_sync, items)
