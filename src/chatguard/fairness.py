"""Fair turns for bulk work, so a client sending large batches cannot starve everyone else.

The event loop runs one thing at a time: a 1,000-message batch assessed in one go holds every
single request behind it for as long as that takes. The service instead cuts a large batch
into chunks and asks for a turn before each one. A set number of chunks of bulk work run at a
time (one where the chunk's work is this process's CPU; a few where it is mostly waiting on
other roles), turns go round-robin between the batch callers waiting (FIFO within one caller),
and before a turn is granted the loop runs whatever else is ready (single requests are never
queued here: they only ever wait for the chunks in progress).

How large the next chunk is depends on who else is here: while single requests (and small
batches) are being moderated, or one has started since the last chunk began, bulk work goes
in small chunks, so they wait for little; with no one else, in large ones, which cost less a
message. Pure scheduling, no timing: the order of turns and the size of each chunk are a
function of the order of requests.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager


class FairScheduler:
    """Round-robin turns between callers; `turns` held at a time."""

    def __init__(self, *, turns: int = 1, chunk: int = 100, chunk_beside_others: int = 25) -> None:
        if turns < 1:
            raise ValueError("turns must be at least 1")
        self._waiting: OrderedDict[int, deque[asyncio.Future[None]]] = OrderedDict()
        self._turns = turns
        self._held = 0
        self._ids = itertools.count(1)
        #: Messages in a chunk of bulk work when it is alone, and beside other requests.
        self.chunk = max(1, chunk)
        self.chunk_beside_others = max(1, min(chunk_beside_others, self.chunk))
        #: Requests moderated outside the turns, in progress now.
        self._others = 0
        #: Whether one started since the last chunk's size was chosen.
        self._others_since_chunk = False

    @property
    def turns(self) -> int:
        """Turns held at a time."""
        return self._turns

    def is_bulk(self, messages: int) -> bool:
        """Whether a request of this many messages takes turns (in chunks)."""
        return messages > self.chunk_beside_others

    def chunk_size(self) -> int:
        """Messages in the next chunk of bulk work (asked once for each chunk)."""
        beside_others = self._others > 0 or self._others_since_chunk
        self._others_since_chunk = False
        return self.chunk_beside_others if beside_others else self.chunk

    @contextmanager
    def other_request(self) -> Iterator[None]:
        """Mark a request moderated outside the turns (a single message, a small batch) while
        the block runs: bulk work goes in small chunks beside it."""
        self._others += 1
        self._others_since_chunk = True
        try:
            yield
        finally:
            self._others -= 1

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
        if self._held >= self._turns or self._waiting:
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
            self._held += 1
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
        self._held -= 1

    def _forget(self, caller: int, future: asyncio.Future[None]) -> None:
        queue = self._waiting.get(caller)
        if queue is not None and future in queue:
            queue.remove(future)
            if not queue:
                del self._waiting[caller]
