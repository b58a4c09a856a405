"""Fair turns for bulk work, so a client sending large batches cannot starve everyone else.

The event loop runs one thing at a time: a 1,000-message batch assessed in one go holds every
single request behind it for as long as that takes. The service instead cuts a large batch
into chunks and asks for a turn before each one. At most one chunk of bulk work runs at a time,
turns go round-robin between the batch callers waiting (FIFO within one caller), and before a
turn is granted the loop runs whatever else is ready (single requests are never queued here:
they only ever wait for the chunk in progress). Pure scheduling, no timing: the order of turns
is a function of the order of requests.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class FairScheduler:
    """Round-robin turns between callers; one turn held at a time."""

    def __init__(self) -> None:
        self._waiting: OrderedDict[int, deque[asyncio.Future[None]]] = OrderedDict()
        self._held = False
        self._ids = itertools.count(1)

    def caller(self) -> int:
        """A key for one caller's sequence of turns (one per batch request)."""
        return next(self._ids)

    @property
    def waiting(self) -> int:
        """Turns asked for and not yet granted."""
        return sum(len(q) for q in self._waiting.values())

    @asynccontextmanager
    async def turn(self, caller: int) -> AsyncIterator[None]:
        """Hold a turn for `caller` while the block runs."""
        # Let whatever is ready (single requests' next steps) run first.
        await asyncio.sleep(0)
        if self._held or self._waiting:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(caller, deque()).append(future)
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._release()  # granted just as it was cancelled: pass the turn on
                else:
                    self._forget(caller, future)
                raise
        else:
            self._held = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        """Grant the next turn: the caller first in line, which then goes to the back."""
        while self._waiting:
            caller, queue = next(iter(self._waiting.items()))
            future = queue.popleft()
            del self._waiting[caller]
            if queue:
                self._waiting[caller] = queue  # back of the line: the others go first
            if not future.done():
                future.set_result(None)
                return  # the turn passes straight to it: still held
        self._held = False

    def _forget(self, caller: int, future: asyncio.Future[None]) -> None:
        queue = self._waiting.get(caller)
        if queue is not None and future in queue:
            queue.remove(future)
            if not queue:
                del self._waiting[caller]
