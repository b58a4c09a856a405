"""A micro-batcher: gathers items submitted by concurrent callers into one call.

A batch goes out when it holds `max_size` items or when its oldest item has waited
`max_wait_ms`, whichever comes first, but only while fewer than `max_concurrent` batches are in
flight: when every slot is busy, items keep gathering and leave, up to `max_size` at a time, as
soon as a slot frees. So under light load a message waits at most `max_wait_ms`, and under heavy
load batches fill up instead of queueing half-empty behind the endpoint.

The handler answers by position; items it leaves unanswered (a batch answered partly) are
retried one by one, and fail cleanly with `MissingVerdictError` if they still get no answer. An
exception from the handler fails the whole batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from chatguard.errors import StageUnavailableError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: handler(items) -> {position in items: result}; positions left out were not answered.
Handler = Callable[[list[T]], Awaitable[Mapping[int, R]]]


class MissingVerdictError(StageUnavailableError):
    """The endpoint answered the batch but not this item, even when asked for it alone."""


@dataclass(slots=True)
class _Pending(Generic[T, R]):
    item: T
    future: asyncio.Future[R]
    arrived: float


class MicroBatcher(Generic[T, R]):
    """Collects items across callers and hands them to `handler` in batches."""

    def __init__(
        self,
        *,
        handler: Handler[T, R],
        max_size: int = 16,
        max_wait_ms: float = 20.0,
        max_concurrent: int | None = None,
        on_flush: Callable[[int], None] | None = None,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._handler = handler
        self.max_size = max_size
        self.max_wait_s = max_wait_ms / 1000
        self.max_concurrent = max_concurrent
        self._on_flush = on_flush
        self._pending: deque[_Pending[T, R]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = 0
        self.batches = 0
        self.single_retries = 0
        self.missing = 0

    async def submit(self, item: T) -> R:
        """Queue `item` and wait for its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append(_Pending(item, future, loop.time()))
        if not self._slots_full():  # else the next batch to finish dispatches
            self._dispatch()
        return await future

    def _dispatch(self) -> None:
        """Send every batch that is due while a slot is free; otherwise wait for the timer or
        for a batch to finish."""
        loop = asyncio.get_running_loop()
        while self._pending and not self._slots_full():
            full = len(self._pending) >= self.max_size
            waited = loop.time() - self._pending[0].arrived
            if not full and waited < self.max_wait_s:
                break
            batch = self._take()
            if batch:
                self._start(batch)
        if self._pending and not self._slots_full():
            if self._timer is None:
                due = self._pending[0].arrived + self.max_wait_s
                self._timer = loop.call_at(due, self._on_timer)
        elif self._timer is not None:
            # Nothing waits, or a finishing batch will dispatch again.
            self._timer.cancel()
            self._timer = None

    def _take(self) -> list[_Pending[T, R]]:
        """Up to `max_size` items from the front, leaving out callers that gave up."""
        batch: list[_Pending[T, R]] = []
        while self._pending and len(batch) < self.max_size:
            pending = self._pending.popleft()
            if not pending.future.done():
                batch.append(pending)
        return batch

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch()

    def _slots_full(self) -> bool:
        return self.max_concurrent is not None and self._running >= self.max_concurrent

    def _start(self, batch: list[_Pending[T, R]]) -> None:
        self._running += 1
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._running -= 1
        if self._pending and not task.get_loop().is_closed():
            self._dispatch()

    async def _run(self, batch: list[_Pending[T, R]]) -> None:
        self.batches += 1
        if self._on_flush is not None:
            self._on_flush(len(batch))
        try:
            answered = await self._handler([p.item for p in batch])
        except asyncio.CancelledError:
            _fail_all(batch, StageUnavailableError("the adjudicator is shutting down"))
            raise
        except Exception as exc:
            _fail_all(batch, exc)
            return
        missing = [p for i, p in enumerate(batch) if i not in answered]
        for index, pending in enumerate(batch):
            if index in answered and not pending.future.done():
                pending.future.set_result(answered[index])
        if not missing:
            return
        if len(batch) == 1:
            self._give_up(missing[0])
            return
        # Ask for each missing one alone, concurrently (the client's limit still applies).
        self.single_retries += len(missing)
        await asyncio.gather(*(self._run_single(p) for p in missing))

    async def _run_single(self, pending: _Pending[T, R]) -> None:
        if pending.future.done():
            return
        try:
            answered = await self._handler([pending.item])
        except Exception as exc:
            _fail_all([pending], exc)
            return
        if 0 in answered:
            if not pending.future.done():
                pending.future.set_result(answered[0])
        else:
            self._give_up(pending)

    def _give_up(self, pending: _Pending[T, R]) -> None:
        self.missing += 1
        if not pending.future.done():
            pending.future.set_exception(
                MissingVerdictError("the endpoint gave no verdict for this message")
            )

    async def close(self) -> None:
        """Fail what is queued and stop the batches in flight."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        _fail_all(list(self._pending), StageUnavailableError("the adjudicator is shutting down"))
        self._pending.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _fail_all(batch: list[_Pending[T, R]], exc: BaseException) -> None:
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(exc)
