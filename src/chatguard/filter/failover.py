"""Spam windows in Redis that survive Redis going away.

`FailoverSpamState` puts a `RedisSpamState` first and an `InMemorySpamState` behind it. While
Redis answers, every observation goes to Redis (windows shared by every filter worker). When a
call fails or takes longer than `timeout_s`, the state marks Redis down, answers that batch and
every later one from the in-process windows (this worker's messages only: a flood spread over
several workers counts per worker), and probes Redis in the background with a growing pause
until it answers again. It never raises: a Redis outage costs the shared counts, never the
filter's verdict.

Every observation batch answered from the fallback counts once in `degraded_operations` and
in the service's `chatguard_degraded_total{component="redis"}` once the stage binds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from chatguard.filter.state import InMemorySpamState, Observation, RedisSpamState
from chatguard.pipeline.stage import ComponentHealth

log = logging.getLogger(__name__)

#: The component name `/health` and the degraded counter use.
COMPONENT = "redis"


class FailoverSpamState:
    """Redis windows with an in-process fallback; see the module docstring."""

    def __init__(
        self,
        *,
        primary: RedisSpamState,
        fallback: InMemorySpamState | None = None,
        timeout_s: float = 0.2,
        retry_min_s: float = 0.25,
        retry_max_s: float = 5.0,
        check_every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.fallback = fallback if fallback is not None else InMemorySpamState()
        self.timeout_s = timeout_s
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.check_every_s = check_every_s
        self._clock = clock
        self._up = True
        self._down_since: float | None = None
        self._last_error = ""
        self._retry_in = retry_min_s
        self._probe: asyncio.Task[None] | None = None
        self._counter: Any = None  # the service's degraded counter, once bound
        self.degraded_operations = 0

    @property
    def up(self) -> bool:
        """Did Redis answer the last call or probe?"""
        return self._up

    def bind_counter(self, counter: Any) -> None:
        """Count degraded operations on `counter` (a labelled Prometheus counter child)."""
        self._counter = counter

    async def observe(self, observations: Sequence[Observation]) -> list[int]:
        self._ensure_probe()
        if self._up:
            try:
                async with asyncio.timeout(self.timeout_s):
                    return await self.primary.observe(observations)
            except Exception as exc:  # any Redis failure: connection, timeout, script, OOM
                self._mark_down(exc)
        self._count_degraded()
        return self.fallback.observe_now(observations)

    def _count_degraded(self) -> None:
        self.degraded_operations += 1
        if self._counter is not None:
            self._counter.inc()

    def _mark_down(self, exc: BaseException) -> None:
        if self._up:
            # The error's type only: a Redis error message may quote the command's arguments.
            log.warning("redis unavailable, spam windows fall back to this process: %s",
                        type(exc).__name__)  # fmt: skip
            self._down_since = self._clock()
            self._retry_in = self.retry_min_s
        self._up = False
        self._last_error = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__

    def _mark_up(self) -> None:
        if not self._up:
            log.warning("redis answers again, spam windows are shared again")
        self._up = True
        self._down_since = None
        self._retry_in = self.retry_min_s

    async def ping(self) -> bool:
        """Ask Redis now (bounded by `timeout_s`) and update the state; True if it answered."""
        try:
            async with asyncio.timeout(self.timeout_s):
                answered = await self.primary.ping()
        except Exception as exc:
            self._mark_down(exc)
            return False
        if answered:
            self._mark_up()
        return answered

    def _ensure_probe(self) -> None:
        if self._probe is None or self._probe.done():
            with contextlib.suppress(RuntimeError):  # no running loop: started on first use
                self._probe = asyncio.get_running_loop().create_task(self._watch())

    async def start(self) -> None:
        """Start the background check (also started by the first observation)."""
        self._ensure_probe()

    async def _watch(self) -> None:
        """While Redis is down, probe it with a doubling pause; while up, check it now and then
        so that `/health` notices an outage even when no message arrives."""
        while True:
            if self._up:
                await asyncio.sleep(self.check_every_s)
                if self._up:
                    await self.ping()
                continue
            await asyncio.sleep(self._retry_in)
            if not await self.ping():
                self._retry_in = min(self._retry_in * 2, self.retry_max_s)

    def health(self) -> ComponentHealth:
        """Redis as a component of `/health`: not essential (the filter runs without it)."""
        if self._up:
            return ComponentHealth(COMPONENT, True, "spam windows shared in Redis", essential=False)
        since = self._clock() - (self._down_since or self._clock())
        detail = (
            f"unavailable for {since:.0f}s ({self._last_error}); spam windows per process, "
            f"retrying every {self._retry_in:g}s at most"
        )
        return ComponentHealth(COMPONENT, False, detail, essential=False)

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
        with contextlib.suppress(Exception):  # closing a dead connection may fail; nothing to do
            await self.primary.close()
        await self.fallback.close()
