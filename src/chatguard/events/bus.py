"""The one event-bus interface, its topics and its counters.

Two kinds of stream, one interface:

- a **topic** fans out: every subscriber gets every event from the moment it subscribed, and
  a subscriber that cannot keep up loses its oldest events (counted as dropped) instead of
  slowing the publisher; its length is bounded (older events are trimmed);
- a **work stream** is a queue shared by the consumers of a group: each entry goes to one
  consumer, is acknowledged only after the handler succeeded, is delivered again when it
  failed or its consumer died, and goes to a dead-letter stream after too many deliveries.
  Publishing to a work stream that is over its bound raises `BackpressureError`.

`InProcessEventBus` serves the embedded server; `RedisStreamsEventBus` the distributed shape.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from chatguard.events.model import Event, EventBase

#: Decisions and the review events they cause; the moderators' WebSocket and the connectors
#: listen here.
DECISIONS_TOPIC = "decisions"
#: Assessments of the cascade, for observers (the evaluator).
ASSESSMENTS_TOPIC = "assessments"
#: Messages waiting for the escalation stages.
ESCALATIONS_TOPIC = "escalations"
#: What chat platforms carried out through their connectors.
ACTIONS_TOPIC = "actions"
#: Work stream: messages accepted for moderation, for the filter role.
INGEST_STREAM = "ingest"
#: Streams whose entries are work for one consumer group (bounded by refusal, not trimming).
WORK_STREAMS = frozenset({INGEST_STREAM})

#: What a consumer does with one event; an exception leaves the entry unacknowledged.
Handler = Callable[[Event], Awaitable[None]]


@dataclass
class BusCounters:
    """What a bus did, per topic or stream: the figures behind its Prometheus counters."""

    published: Counter[str] = field(default_factory=Counter)
    #: Events a slow subscriber lost (its queue was full).
    dropped: Counter[str] = field(default_factory=Counter)
    #: Work entries handled and acknowledged.
    completed: Counter[str] = field(default_factory=Counter)
    #: Handler failures (the entry stays pending and is delivered again).
    failed: Counter[str] = field(default_factory=Counter)
    #: Deliveries of an entry after its first.
    retried: Counter[str] = field(default_factory=Counter)
    #: Entries moved to the dead-letter stream.
    dead_lettered: Counter[str] = field(default_factory=Counter)
    #: Publishes refused by backpressure.
    refused: Counter[str] = field(default_factory=Counter)
    #: Topic publishes lost because the transport was away (moderation went on).
    lost: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class Consumed:
    """What one round of `consume` did."""

    completed: int = 0
    failed: int = 0
    retried: int = 0
    dead_lettered: int = 0

    @property
    def handled(self) -> int:
        return self.completed + self.failed

    def plus(self, **more: int) -> Consumed:
        """These counts with `more` added (keyword names as the fields)."""
        return Consumed(
            completed=self.completed + more.get("completed", 0),
            failed=self.failed + more.get("failed", 0),
            retried=self.retried + more.get("retried", 0),
            dead_lettered=self.dead_lettered + more.get("dead_lettered", 0),
        )


class EventBus(Protocol):
    """Publish typed events to topics and work streams; subscribe to topics; consume work
    streams in consumer groups."""

    #: `memory` or `redis`: the `bus` label of its metrics.
    kind: str
    counters: BusCounters

    async def publish(self, topic: str, event: EventBase) -> None:
        """Send `event`. On a topic this never waits for subscribers; on a work stream over its
        bound it raises `BackpressureError`."""
        ...

    async def publish_many(self, topic: str, events: Sequence[EventBase]) -> None:
        """Send `events` in order, in one round trip where the transport allows. On a work
        stream each is held to the bound in turn: those before a `BackpressureError` are
        queued."""
        ...

    def subscribe(self, topic: str) -> AsyncIterator[Event]:
        """The events published on `topic` from now on, as an async iterator (close it with
        `aclose()`)."""
        ...

    def listened(self, topic: str) -> bool:
        """Whether an event published on `topic` now could reach anyone: publishers may skip
        making events nobody can read (an event costs microseconds to build and validate, per
        message). In process: a subscriber or a work stream; on Redis always (other
        processes read the streams)."""
        ...

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
        """One round of work for `consumer` in `group`: entries reclaimed from consumers idle
        too long, then new ones (waiting up to `block_s`), each handed to `handler` and
        acknowledged only when it returned."""
        ...

    async def dead_letters(self, stream: str, *, limit: int = 100) -> list[DeadLetter]:
        """The entries of `stream` given up on, oldest first."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An entry given up on: its original id, how often it was delivered, and its event (None
    when it could not be read)."""

    entry_id: str
    deliveries: int
    event: Event | None
    raw: str
