"""Token buckets: the arithmetic and the in-process store.

A bucket holds up to `burst` tokens and refills at `rate_per_s`; a request takes `cost` tokens
from each bucket it touches, from all of them or from none (so a refused request costs nothing).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

MAX_BUCKETS = 100_000


@dataclass(frozen=True, slots=True)
class BucketSpec:
    rate_per_s: float
    burst: int

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0 and self.burst > 0


@dataclass(frozen=True, slots=True)
class Take:
    """`cost` tokens from the bucket `key`. A cost above the burst takes a full bucket (a
    request can never need more than the bucket holds, or it could never pass)."""

    key: str
    spec: BucketSpec
    cost: int = 1

    @property
    def tokens(self) -> float:
        return float(min(self.cost, self.spec.burst))


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0  # whole seconds, at least 1 when refused
    refused_key: str | None = None


class Buckets(Protocol):
    async def take(self, takes: Sequence[Take]) -> Verdict:
        """Take every `Take` or none of them."""
        ...

    async def close(self) -> None: ...


def retry_after(wait_s: float) -> int:
    """Whole seconds for a Retry-After header: rounded up, at least 1."""
    return max(1, math.ceil(wait_s - 1e-9))


class InProcessBuckets:
    """Buckets in this process, the least recently used dropped past `max_buckets` (a dropped
    bucket comes back full: the error is on the lenient side)."""

    def __init__(
        self, *, max_buckets: int = MAX_BUCKETS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_buckets = max_buckets
        self._clock = clock
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def take(self, takes: Sequence[Take]) -> Verdict:
        return self.take_now(takes)

    def take_now(self, takes: Sequence[Take]) -> Verdict:
        now = self._clock()
        levels: list[float] = []
        worst: tuple[float, str] | None = None
        for take in takes:
            tokens, at = self._state.get(take.key, (float(take.spec.burst), now))
            level = min(float(take.spec.burst), tokens + max(0.0, now - at) * take.spec.rate_per_s)
            levels.append(level)
            if level < take.tokens:
                wait = (take.tokens - level) / take.spec.rate_per_s
                if worst is None or wait > worst[0]:
                    worst = (wait, take.key)
        if worst is not None:
            return Verdict(False, retry_after(worst[0]), worst[1])
        for take, level in zip(takes, levels, strict=True):
            self._state[take.key] = (level - take.tokens, now)
            self._state.move_to_end(take.key)
        while len(self._state) > self.max_buckets:
            self._state.popitem(last=False)
        return Verdict(True)

    async def close(self) -> None:
        self._state.clear()
