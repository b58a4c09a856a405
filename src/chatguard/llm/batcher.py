"""A micro-batcher: gathers items submitted by concurrent callers into one call.

A batch is flushed when it holds `max_size` items or `max_wait_ms` after its first item arrived,
whichever comes first. The handler answers by position; items it leaves unanswered (a batch
answered partly) are retried one by one, and fail cleanly with `MissingVerdictError` if they
still get no answer. An exception from the handler fails the whole batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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


class MicroBatcher(Generic[T, R]):
    """Collects items across callers and hands them to `handler` in batches."""

    def __init__(
        self,
        *,
        handler: Handler[T, R],
        max_size: int = 16,
        max_wait_ms: float = 20.0,
        on_flush: Callable[[int], None] | None = None,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._handler = handler
        self.max_size = max_size
        self.max_wait_s = max_wait_ms / 1000
        self._on_flush = on_flush
        self._pending: list[_Pending[T, R]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.single_retries = 0
        self.missing = 0

    async def submit(self, item: T) -> R:
        """Queue `item` and wait for its result."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(item, future))
        if len(self._pending) >= self.max_size:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.max_wait_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch = [p for p in self._pending if not p.future.done()]  # drop cancelled callers
        self._pending = []
        if not batch:
            return
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        _fail_all(self._pending, StageUnavailableError("the adjudicator is shutting down"))
        self._pending = []
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _fail_all(batch: list[_Pending[T, R]], exc: BaseException) -> None:
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(exc)
