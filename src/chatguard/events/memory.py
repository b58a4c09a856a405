"""The in-process event bus of the embedded server: fan-out to subscribers' bounded queues,
and work streams with consumer groups held in memory (the same semantics as Redis Streams,
without surviving the process)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field

from chatguard.errors import BackpressureError
from chatguard.events.bus import WORK_STREAMS, BusCounters, Consumed, DeadLetter, Handler
from chatguard.events.codec import encode
from chatguard.events.model import Event, EventBase


@dataclass
class _Pending:
    event: Event
    consumer: str
    delivered_at: float
    deliveries: int


@dataclass
class _Group:
    #: Entries delivered and not yet acknowledged, by id.
    pending: OrderedDict[str, _Pending] = field(default_factory=OrderedDict)


@dataclass
class _WorkStream:
    """A work stream served by one consumer group (as on Redis, where an acknowledged entry
    is deleted): entries not yet delivered, and the group's pending ones."""

    undelivered: deque[tuple[str, Event]] = field(default_factory=deque)
    group: _Group = field(default_factory=_Group)
    dead: deque[DeadLetter] = field(default_factory=deque)
    #: Wakes consumers waiting for new entries.
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class InProcessEventBus:
    """Topics fan out to every subscriber's bounded queue: a slow subscriber drops its oldest
    events (counted in `counters.dropped`) instead of stalling moderation. Work streams (the
    names in `work_streams`) queue entries for consumer groups, up to `maxlen` entries."""

    kind = "memory"

    def __init__(
        self,
        *,
        queue_size: int = 1000,
        maxlen: int = 10_000,
        work_streams: Iterable[str] = WORK_STREAMS,
        claim_idle_s: float = 30.0,
        max_deliveries: int = 5,
        retry_after_s: int = 1,
    ) -> None:
        self._queue_size = queue_size
        self._maxlen = maxlen
        self._work = frozenset(work_streams)
        self._claim_idle_s = claim_idle_s
        self._max_deliveries = max_deliveries
        self._retry_after_s = retry_after_s
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = {}
        self._streams: dict[str, _WorkStream] = {}
        self._ids = itertools.count(1)
        self.counters = BusCounters()

    @property
    def dropped(self) -> int:
        """Events lost by slow subscribers, over every topic."""
        return sum(self.counters.dropped.values())

    def listened(self, topic: str) -> bool:
        return topic in self._work or bool(self._subscribers.get(topic))

    async def publish(self, topic: str, event: EventBase) -> None:
        typed: Event = event  # type: ignore[assignment]
        if topic in self._work:
            self._enqueue(topic, typed)
        self.counters.published[topic] += 1
        for queue in self._subscribers.get(topic, ()):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                    self.counters.dropped[topic] += 1
            queue.put_nowait(typed)

    async def publish_many(self, topic: str, events: Sequence[EventBase]) -> None:
        for event in events:
            await self.publish(topic, event)

    def _check_room(self, name: str, adding: int) -> None:
        stream = self._streams.setdefault(name, _WorkStream())
        if len(stream.undelivered) + len(stream.group.pending) + adding > self._maxlen:
            self.counters.refused[name] += adding
            raise BackpressureError(
                f"the {name} stream is over its bound of {self._maxlen} entries",
                retry_after_s=self._retry_after_s,
            )

    def _enqueue(self, name: str, event: Event) -> None:
        self._check_room(name, 1)
        stream = self._streams[name]
        stream.undelivered.append((f"{next(self._ids)}-0", event))
        stream.arrived.set()

    async def subscribe(self, topic: str) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._subscribers.setdefault(topic, set()).add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers[topic].discard(queue)

    async def consume(
        self,
        stream: str,
        *,
        group: str,
        consumer: str,
        handler: Handler,
        count: int = 16,
        block_s: float = 1.0,
    ) -> Consumed:
        work = self._streams.setdefault(stream, _WorkStream())
        pending = work.group.pending
        now = time.monotonic()
        reclaimed = [
            (entry_id, p)
            for entry_id, p in pending.items()
            if now - p.delivered_at >= self._claim_idle_s
        ][:count]
        done = Consumed()
        for entry_id, p in reclaimed:
            p.consumer, p.delivered_at, p.deliveries = consumer, now, p.deliveries + 1
            if p.deliveries > self._max_deliveries:
                self._dead_letter(stream, work, group, entry_id, p)
                done = done.plus(dead_lettered=1)
                continue
            self.counters.retried[stream] += 1
            done = done.plus(retried=1)
            done = done.plus(**await self._handle(stream, work, group, entry_id, p, handler))
        fresh = self._take(work, pending, consumer, count - len(reclaimed))
        if not fresh and not reclaimed:
            work.arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(block_s):
                    await work.arrived.wait()
            fresh = self._take(work, pending, consumer, count)
        for entry_id, p in fresh:
            done = done.plus(**await self._handle(stream, work, group, entry_id, p, handler))
        return done

    def _take(
        self, work: _WorkStream, pending: OrderedDict[str, _Pending], consumer: str, count: int
    ) -> list[tuple[str, _Pending]]:
        taken: list[tuple[str, _Pending]] = []
        while work.undelivered and len(taken) < count:
            entry_id, event = work.undelivered.popleft()
            p = _Pending(event, consumer, time.monotonic(), 1)
            pending[entry_id] = p
            taken.append((entry_id, p))
        return taken

    async def _handle(
        self,
        name: str,
        work: _WorkStream,
        group: str,
        entry_id: str,
        p: _Pending,
        handler: Handler,
    ) -> dict[str, int]:
        try:
            await handler(p.event)
        except Exception:
            self.counters.failed[name] += 1
            return {"failed": 1}
        self._ack(work, group, entry_id)
        self.counters.completed[name] += 1
        return {"completed": 1}

    def _ack(self, work: _WorkStream, group: str, entry_id: str) -> None:
        work.group.pending.pop(entry_id, None)

    def _dead_letter(
        self, name: str, work: _WorkStream, group: str, entry_id: str, p: _Pending
    ) -> None:
        work.dead.append(DeadLetter(entry_id, p.deliveries - 1, p.event, encode(p.event)))
        while len(work.dead) > self._maxlen:
            work.dead.popleft()
        self._ack(work, group, entry_id)
        self.counters.dead_lettered[name] += 1

    async def dead_letters(self, stream: str, *, limit: int = 100) -> list[DeadLetter]:
        work = self._streams.get(stream)
        return list(work.dead)[:limit] if work is not None else []

    async def close(self) -> None:
        """Nothing to release."""
