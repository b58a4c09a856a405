"""The event bus on Redis Streams, for the distributed shape.

One stream per topic, named `<prefix><topic>`; each entry has one field, `event`, holding the
event's JSON form. Topics are trimmed with `XADD ... MAXLEN ~ maxlen`. Work streams are not
trimmed (that would lose accepted work): publishing refuses with `BackpressureError` while
one holds `maxlen` entries or more, and an entry is deleted once its group acknowledged it, so
a work stream's length is the work not yet done. Consumers read new entries with
`XREADGROUP ... >`, acknowledge with `XACK` only after their handler returned, take over the
entries of a consumer idle longer than `claim_idle_s` with `XAUTOCLAIM`, and move an entry
delivered more than `max_deliveries` times (the count `XPENDING` reports) to
`<prefix><topic>:dead`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatguard.errors import BackpressureError, EventBusUnavailableError, EventFormatError
from chatguard.events.bus import WORK_STREAMS, BusCounters, Consumed, DeadLetter, Handler
from chatguard.events.codec import decode, encode
from chatguard.events.model import Event, EventBase

log = logging.getLogger(__name__)

FIELD = "event"
DEAD_SUFFIX = ":dead"
#: Adds an entry unless the stream is at its bound, in one step (no race between the length
#: check and the add). Returns the new id, or false when refused.
_BOUNDED_ADD = """
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
return redis.call('XADD', KEYS[1], '*', 'event', ARGV[2])
"""
#: How long a subscriber's read waits on Redis before asking again.
READ_BLOCK_S = 1.0
#: A consumer looks for entries to claim every this fraction of `claim_idle_s`: a dead
#: consumer's entries are taken over between `claim_idle_s` and 1.25 times that after delivery.
CLAIM_EVERY = 0.25
_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisStreamsEventBus:
    """`EventBus` on Redis Streams (redis-py asyncio). `redis` should decode responses or not;
    both are read."""

    kind = "redis"

    def __init__(
        self,
        *,
        redis: Redis,
        prefix: str = "chatguard:events:",
        maxlen: int = 100_000,
        work_streams: Iterable[str] = WORK_STREAMS,
        claim_idle_s: float = 30.0,
        max_deliveries: int = 5,
        queue_size: int = 1000,
        retry_after_s: int = 1,
        owns_client: bool = False,
    ) -> None:
        self._redis = redis
        self.prefix = prefix
        self._maxlen = maxlen
        self._work = frozenset(work_streams)
        self._claim_idle_ms = int(claim_idle_s * 1000)
        self._max_deliveries = max_deliveries
        self._queue_size = queue_size
        self._retry_after_s = retry_after_s
        self._owns_client = owns_client
        self._groups: set[tuple[str, str]] = set()
        #: When each (stream key, group, consumer) looks for entries to claim next.
        self._next_claim: dict[tuple[str, str, str], float] = {}
        self._bounded_add = redis.register_script(_BOUNDED_ADD)
        self.counters = BusCounters()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStreamsEventBus:
        client = Redis.from_url(url, decode_responses=True)
        return cls(redis=client, owns_client=True, **options)

    def key(self, topic: str) -> str:
        """The Redis key of a topic's stream."""
        return f"{self.prefix}{topic}"

    def listened(self, topic: str) -> bool:
        return True  # consumers in other processes read the stream, now or later

    async def publish(self, topic: str, event: EventBase) -> None:
        key, body = self.key(topic), encode(event)
        if topic in self._work:
            try:
                added = await self._bounded_add(keys=[key], args=[self._maxlen, body])
            except _UNAVAILABLE as exc:
                raise EventBusUnavailableError(f"the {topic} stream cannot be reached") from exc
            if not added:
                self.counters.refused[topic] += 1
                raise BackpressureError(
                    f"the {topic} stream is over its bound of {self._maxlen} entries",
                    retry_after_s=self._retry_after_s,
                )
        else:
            try:
                await self._redis.xadd(key, {FIELD: body}, maxlen=self._maxlen, approximate=True)
            except _UNAVAILABLE as exc:
                # Observers miss this event; moderation does not wait for Redis to return.
                self.counters.lost[topic] += 1
                log.warning("event on %s lost: %s", topic, type(exc).__name__)
                return
        self.counters.published[topic] += 1

    async def publish_many(self, topic: str, events: Sequence[EventBase]) -> None:
        if not events:
            return
        if topic in self._work:
            # Work is refused or taken entry by entry (each against the bound).
            for event in events:
                await self.publish(topic, event)
            return
        key = self.key(topic)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for event in events:
                    pipe.xadd(key, {FIELD: encode(event)}, maxlen=self._maxlen, approximate=True)
                await pipe.execute()
        except _UNAVAILABLE as exc:
            self.counters.lost[topic] += len(events)
            log.warning("%d events on %s lost: %s", len(events), topic, type(exc).__name__)
            return
        self.counters.published[topic] += len(events)

    def subscribe(self, topic: str) -> AsyncIterator[Event]:
        """Events from the moment of this call on (entry ids are Redis's millisecond clock;
        the position is taken from this host's, so clocks apart by more than the time
        between two events shift it). A reader task moves entries into a bounded local queue
        as fast as Redis sends them; a slow subscriber loses its oldest queued events
        (counted in `counters.dropped`), never Redis's."""
        return self._subscription(topic, f"{time.time_ns() // 1_000_000}-0")

    async def _subscription(self, topic: str, start: str) -> AsyncIterator[Event]:
        key = self.key(topic)
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        stopping = asyncio.Event()
        reader = asyncio.create_task(self._read_into(topic, key, start, queue, stopping))
        try:
            while True:
                yield await queue.get()
        finally:
            stopping.set()
            reader.cancel()
            await asyncio.wait({reader}, timeout=READ_BLOCK_S * 2)

    async def _read_into(
        self,
        topic: str,
        key: str,
        last: str,
        queue: asyncio.Queue[Event],
        stopping: asyncio.Event,
    ) -> None:
        block_ms = int(READ_BLOCK_S * 1000)
        while not stopping.is_set():
            try:
                reply: Any = await self._redis.xread({key: last}, count=500, block=block_ms)
            except _UNAVAILABLE as exc:
                if stopping.is_set():
                    return
                log.warning("reading %s failed: %s", topic, type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await stopping.wait()
                continue
            for _, entries in reply or ():
                for entry_id, fields in entries:
                    last = _text(entry_id)
                    event = self._read(topic, fields)
                    if event is None:
                        continue
                    if queue.full():
                        queue.get_nowait()
                        self.counters.dropped[topic] += 1
                    queue.put_nowait(event)

    def _read(self, topic: str, fields: Any) -> Event | None:
        try:
            return decode(_text(_field(fields)))
        except EventFormatError as exc:
            log.warning("unreadable event on %s: %s", topic, exc)
            return None

    async def ensure_group(self, stream: str, group: str, *, start: str = "0") -> None:
        """Create `group` on `stream` (and the stream) unless it exists. `start="0"`: the group
        also reads entries added before it existed."""
        if (stream, group) in self._groups:
            return
        try:
            await self._redis.xgroup_create(self.key(stream), group, id=start, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add((stream, group))

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
        try:
            await self.ensure_group(stream, group)
            return await self._round(stream, group, consumer, handler, count, block_s)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # The stream was deleted under us: the group goes with it; make both again.
            self._groups.discard((stream, group))
            return Consumed()
        except _UNAVAILABLE as exc:
            raise EventBusUnavailableError(f"the {stream} stream cannot be reached") from exc

    async def _round(
        self,
        stream: str,
        group: str,
        consumer: str,
        handler: Handler,
        count: int,
        block_s: float,
    ) -> Consumed:
        key = self.key(stream)
        done = Consumed()
        claimed = await self._claim(key, group, consumer, count)
        if claimed:
            deliveries = await self._deliveries(key, group, claimed)
            for entry_id, fields in claimed:
                entry_id = _text(entry_id)
                times = deliveries.get(entry_id, 1)
                if times > self._max_deliveries:
                    await self._dead_letter(stream, group, entry_id, fields, times - 1)
                    done = done.plus(dead_lettered=1)
                    continue
                self.counters.retried[stream] += 1
                done = done.plus(retried=1)
                done = done.plus(**await self._handle(stream, group, entry_id, fields, handler))
        room = count - len(claimed)
        if room > 0:
            reply: Any = await self._redis.xreadgroup(
                group,
                consumer,
                {key: ">"},
                count=room,
                block=None if claimed else int(block_s * 1000),
            )
            for _, entries in reply or ():
                for entry_id, fields in entries:
                    outcome = await self._handle(stream, group, _text(entry_id), fields, handler)
                    done = done.plus(**outcome)
        return done

    async def _claim(self, key: str, group: str, consumer: str, count: int) -> list[Any]:
        """Entries idle past `claim_idle_s` in other consumers' hands, taken over. An entry
        can only become claimable that long after its delivery, so a consumer looks at most
        every `CLAIM_EVERY` of that time (and again at once after a full page), not on every
        round: a busy consumer's rounds are one entry each, and the look cost a round trip."""
        now = time.monotonic()
        due = self._next_claim.get((key, group, consumer), 0.0)
        if now < due:
            return []
        _, claimed, _ = await self._redis.xautoclaim(
            key, group, consumer, min_idle_time=self._claim_idle_ms, start_id="0-0", count=count
        )
        full = len(claimed) >= count
        self._next_claim[(key, group, consumer)] = (
            now if full else now + CLAIM_EVERY * self._claim_idle_ms / 1000
        )
        return list(claimed)

    async def _deliveries(self, key: str, group: str, claimed: list[Any]) -> dict[str, int]:
        """Delivery counts of the claimed entries, from XPENDING (one round trip)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry_id, _ in claimed:
                pipe.xpending_range(key, group, min=entry_id, max=entry_id, count=1)
            replies = await pipe.execute()
        return {
            _text(row["message_id"]): int(row["times_delivered"])
            for rows in replies
            for row in rows
        }

    async def _handle(
        self, stream: str, group: str, entry_id: str, fields: Any, handler: Handler
    ) -> dict[str, int]:
        try:
            event = decode(_text(_field(fields)))
        except EventFormatError as exc:
            # Cannot succeed on any delivery: straight to the dead letters.
            log.warning("unreadable entry %s on %s: %s", entry_id, stream, exc)
            await self._dead_letter(stream, group, entry_id, fields, 1)
            return {"dead_lettered": 1}
        try:
            await handler(event)
        except Exception as exc:
            self.counters.failed[stream] += 1
            log.warning("handling %s on %s failed: %s", entry_id, stream, type(exc).__name__)
            return {"failed": 1}
        await self._ack(stream, group, entry_id)
        self.counters.completed[stream] += 1
        return {"completed": 1}

    async def _ack(self, stream: str, group: str, entry_id: str) -> None:
        key = self.key(stream)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(key, group, entry_id)
            if stream in self._work:
                pipe.xdel(key, entry_id)  # done work leaves the stream: its length is the backlog
            await pipe.execute()

    async def _dead_letter(
        self, stream: str, group: str, entry_id: str, fields: Any, deliveries: int
    ) -> None:
        body = _field(fields)
        await self._redis.xadd(
            self.key(stream) + DEAD_SUFFIX,
            {
                FIELD: body if body is not None else "",
                "entry_id": entry_id,
                "deliveries": deliveries,
            },
            maxlen=self._maxlen,
            approximate=True,
        )
        await self._ack(stream, group, entry_id)
        self.counters.dead_lettered[stream] += 1
        log.warning(
            "entry %s on %s dead-lettered after %d deliveries", entry_id, stream, deliveries
        )

    async def dead_letters(self, stream: str, *, limit: int = 100) -> list[DeadLetter]:
        rows: Any = await self._redis.xrange(self.key(stream) + DEAD_SUFFIX, count=limit)
        letters = []
        for _, fields in rows or ():
            values = {_text(k): _text(v) for k, v in (fields or {}).items()}
            raw = values.get(FIELD, "")
            try:
                event: Event | None = decode(raw)
            except EventFormatError:
                event = None
            letters.append(
                DeadLetter(values.get("entry_id", ""), int(values.get("deliveries", 0)), event, raw)
            )
        return letters

    async def delete(self, topic: str) -> None:
        """Remove a topic's stream (a caller's reply topic, when it closes)."""
        await self._redis.delete(self.key(topic))

    async def length(self, topic: str) -> int:
        """Entries in a topic's stream (a work stream's backlog)."""
        return int(await self._redis.xlen(self.key(topic)))

    async def close(self) -> None:
        if self._owns_client:
            await self._redis.aclose()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _field(fields: Any) -> Any:
    if fields is None:
        return None
    return fields.get(FIELD, fields.get(FIELD.encode()))
