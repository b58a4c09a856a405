"""Group commit: saves that arrive while a transaction is running share the next one.

One writer task per store takes every save waiting in its queue (up to `max_entries` entries),
writes them in one transaction and hands each caller its own outcome. A caller's `submit`
returns only after the transaction holding its entries has committed, so an answer still goes
out only once its decision is durable. One commit (one fsync on PostgreSQL, one WAL append on
SQLite) then serves many requests, and on SQLite this process has a single writer: its
requests no longer wait on each other's locks.

The writer knows nothing about what a group means: `write` gets the callers' entry lists in
queue order and returns one result (or exception) per caller, so one caller's bad rows fail
that caller alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from chatguard.errors import StoreUnavailableError

E = TypeVar("E")
R = TypeVar("R")

#: Most entries in one transaction: a bulk caller's 1,000 messages do not hold up the single
#: requests queued behind them for longer than one group of this size.
MAX_GROUP_ENTRIES = 500
#: Seconds `close` waits for queued saves to be written.
CLOSE_DRAIN_S = 10.0

#: Writes the callers' entry lists in one go: one result or exception per caller, in order.
GroupWrite = Callable[[list[list[E]]], Awaitable[list["R | BaseException"]]]
#: Told of every group written: how many callers, how many entries, seconds it took.
GroupObserver = Callable[[int, int, float], None]


@dataclass(slots=True)
class _Pending(Generic[E, R]):
    entries: list[E]
    future: asyncio.Future[R]


class GroupQueue(Generic[E, R]):
    """Coalesces concurrent `submit` calls into groups handed to `write`, `concurrency` groups
    at a time (one for the store's writes and its look-ups of stored decisions by message id;
    a few for calls to another role, which serves several at once)."""

    def __init__(
        self,
        write: GroupWrite[E, R],
        *,
        max_entries: int = MAX_GROUP_ENTRIES,
        observe: GroupObserver | None = None,
        concurrency: int = 1,
    ) -> None:
        self._write = write
        self.max_entries = max(1, max_entries)
        self.observe = observe
        self.concurrency = max(1, concurrency)
        self._queue: deque[_Pending[E, R]] = deque()
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy = 0

    @property
    def waiting(self) -> int:
        """Saves queued and not yet taken into a transaction."""
        return len(self._queue)

    async def submit(self, entries: Sequence[E]) -> R:
        """Queue `entries`; return this caller's result once their transaction committed
        (or raise what failed it). A caller cancelled before its entries were taken leaves
        them unwritten; once taken they are written either way."""
        loop = asyncio.get_running_loop()
        self._ensure_writer(loop)
        assert self._wake is not None
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append(_Pending(list(entries), future))
        self._wake.set()
        return await future

    def take(self) -> list[_Pending[E, R]]:
        """The next group: queued saves in order, at least one, up to `max_entries` entries
        (a save larger than that goes alone); saves whose caller gave up are dropped."""
        group: list[_Pending[E, R]] = []
        size = 0
        while self._queue:
            pending = self._queue[0]
            if pending.future.done():  # cancelled while waiting: nobody to answer
                self._queue.popleft()
                continue
            if group and size + len(pending.entries) > self.max_entries:
                break
            group.append(self._queue.popleft())
            size += len(pending.entries)
        return group

    def _ensure_writer(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._tasks and not any(t.done() for t in self._tasks) and self._loop is loop:
            return
        # First use, or a new event loop (the old one's tasks died with it).
        self._loop = loop
        self._wake = asyncio.Event()
        self._tasks = [
            loop.create_task(self._run(), name="group-queue") for _ in range(self.concurrency)
        ]

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            group = self.take()
            if not group:
                self._wake.clear()
                await self._wake.wait()
                continue
            self._busy += 1
            try:
                await self._write_group(group)
            finally:
                self._busy -= 1

    async def _write_group(self, group: list[_Pending[E, R]]) -> None:
        started = time.perf_counter()
        try:
            results = await self._write([p.entries for p in group])
        except asyncio.CancelledError:
            for pending in group:
                _fail(pending.future, _closed())
            raise
        except BaseException as exc:  # every caller of the group learns what failed it
            results = [exc] * len(group)
        if self.observe is not None:
            entries = sum(len(p.entries) for p in group)
            self.observe(len(group), entries, time.perf_counter() - started)
        for pending, result in zip(group, results, strict=True):
            if isinstance(result, BaseException):
                _fail(pending.future, result)
            elif not pending.future.done():
                pending.future.set_result(result)

    async def close(self) -> None:
        """Write what is queued (briefly), then stop the writer."""
        tasks = self._tasks
        if not tasks:
            return
        running = not any(t.done() for t in tasks)
        if running and self._loop is asyncio.get_running_loop():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_DRAIN_S):
                    while self._queue or self._busy:
                        await asyncio.sleep(0.005)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task
        self._tasks = []
        while self._queue:
            _fail(self._queue.popleft().future, _closed())


def _closed() -> StoreUnavailableError:
    # Whether a group cut off by the stop committed is unknown; the caller spools (a retry
    # of a stored id is answered with the stored decision).
    return StoreUnavailableError("the store is closing; try again")


def _fail(future: asyncio.Future[R], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
