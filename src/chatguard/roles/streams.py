"""Calls between roles over Redis Streams (`ROLE_TRANSPORT=redis`).

The caller publishes a `RoleCallRequested` (the body of the HTTP call it would make) on the
callee's work stream: `ingest` for the filter role, `calls.llm-worker`, `calls.decision`. The
streams are bounded by `ROLE_QUEUE_MAXLEN` entries: past it the filter's calls are refused
with `BackpressureError` (the api role answers 429 with `Retry-After`), the others' fail as a
role that is away does. Each callee process reads its stream in the consumer group named after
its role, with several consumers, serves every call through its own HTTP routes in process (the
same validation, scopes and errors as a call over HTTP), publishes a `RoleCallAnswered` on the
caller's reply topic, and then acknowledges and removes the entry. Entries a consumer left
pending (it was killed) are claimed by another consumer after `ROLE_CLAIM_IDLE_S` and served if
their caller still waits; an entry delivered too often goes to the dead letters. The health of
a role is still asked over HTTP (its `*_ENDPOINT`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from chatguard.errors import BackpressureError, ConfigurationError, EventBusUnavailableError
from chatguard.events.bus import INGEST_STREAM, Event
from chatguard.events.model import RoleCallAnswered, RoleCallRequested
from chatguard.events.redis_streams import RedisStreamsEventBus
from chatguard.events.worker import run_consumer
from chatguard.roles.in_process import InProcessCaller
from chatguard.roles.transport import (
    HttpRoleTransport,
    RoleUnavailableError,
    refusal,
    role_calls_counter,
)

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from starlette.types import ASGIApp

    from chatguard.config import Settings

log = logging.getLogger(__name__)

#: The work stream of each role that serves calls.
CALL_STREAMS = {
    "filter": INGEST_STREAM,
    "llm-worker": "calls.llm-worker",
    "decision": "calls.decision",
}
#: Consumers per process: calls are served concurrently (the LLM's take long).
CONSUMERS = {"filter": 4, "llm-worker": 16, "decision": 4}


def call_bus(settings: Settings) -> RedisStreamsEventBus:
    """The bus the role calls travel on (its own connection pool; REDIS_URL)."""
    if settings.redis_url is None:
        raise ConfigurationError("ROLE_TRANSPORT=redis needs REDIS_URL")
    return RedisStreamsEventBus.from_url(
        settings.redis_url,
        prefix=settings.event_stream_prefix,
        maxlen=settings.role_queue_maxlen,
        work_streams=CALL_STREAMS.values(),
        claim_idle_s=settings.role_claim_idle_s,
        queue_size=10_000,
    )


class StreamRoleTransport:
    """`RoleTransport` over the callee's work stream; answers come on this process's reply
    topic. `refuse_when_full`: a full stream raises `BackpressureError` (the caller's client
    is told to come back), else the call fails as a role that is away."""

    def __init__(
        self,
        *,
        target: str,
        role: str,
        bus: RedisStreamsEventBus,
        timeout_s: float,
        health: HttpRoleTransport | None = None,
        refuse_when_full: bool = False,
    ) -> None:
        self.target = target
        self.stream = CALL_STREAMS[role]
        self.bus = bus
        self.timeout_s = timeout_s
        self.health = health
        self.refuse_when_full = refuse_when_full
        self.base_url = f"stream {bus.key(self.stream)}"
        self.reply_topic = f"replies.{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.last_error: str | None = None
        self.calls: Counter | None = None
        self._away_by_probe = False
        self._waiting: dict[str, asyncio.Future[RoleCallAnswered]] = {}
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, target: str, role: str, base_url: str, bus: RedisStreamsEventBus
    ) -> StreamRoleTransport:
        return cls(
            target=target,
            role=role,
            bus=bus,
            timeout_s=settings.request_timeout,
            health=HttpRoleTransport.from_settings(settings, target=target, base_url=base_url),
            refuse_when_full=role == "filter",
        )

    def bind_metrics(self, registry: CollectorRegistry) -> None:
        self.calls = role_calls_counter(registry)

    async def call(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self._listen()
        call_id = uuid.uuid4().hex
        waiting: asyncio.Future[RoleCallAnswered] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = waiting
        request = RoleCallRequested(
            call_id=call_id,
            path=path,
            body=dict(body),
            reply_to=self.reply_topic,
            expires_at=time.time() + self.timeout_s,
        )
        try:
            try:
                await self.bus.publish(self.stream, request)
            except BackpressureError:
                if self.refuse_when_full:
                    self._count("refused")
                    raise
                raise self._failed("has a full queue") from None
            except EventBusUnavailableError:
                raise self._failed("cannot be reached: Redis is unavailable") from None
            try:
                async with asyncio.timeout(self.timeout_s):
                    answer = await waiting
            except TimeoutError:
                raise self._failed(f"gave no answer within {self.timeout_s:g}s") from None
        finally:
            self._waiting.pop(call_id, None)
        why = refusal(answer.status, answer.body)
        if why is not None:
            raise self._failed(why)
        self._succeeded()
        return dict(answer.body)

    def _listen(self) -> None:
        if self._reader is None:
            # Subscribed before the first call is published: no answer can come earlier.
            replies = self.bus.subscribe(self.reply_topic)
            self._reader = asyncio.create_task(self._deliver(replies), name="role-replies")

    async def _deliver(self, replies: AsyncIterator[Event]) -> None:
        async for event in replies:
            if isinstance(event, RoleCallAnswered):
                waiting = self._waiting.get(event.call_id)
                if waiting is not None and not waiting.done():
                    waiting.set_result(event)

    async def probe(self) -> bool:
        if self.health is None:
            return True
        up = await self.health.probe()
        if not up:
            self.last_error = self.health.last_error
            self._away_by_probe = True
        elif self._away_by_probe:
            self.last_error = None
            self._away_by_probe = False
        return up

    def _count(self, outcome: str) -> None:
        if self.calls is not None:
            self.calls.labels(self.target, outcome).inc()

    def _succeeded(self) -> None:
        if self.last_error is not None:
            log.info("the %s answers again", self.target)
        self.last_error = None
        self._count("ok")

    def _failed(self, why: str) -> RoleUnavailableError:
        if self.last_error is None:
            log.warning("the %s %s", self.target, why)
        self.last_error = why
        self._count("failed")
        return RoleUnavailableError(f"the {self.target} {why}")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
            with contextlib.suppress(Exception):
                await self.bus.delete(self.reply_topic)
        if self.health is not None:
            await self.health.close()
        await self.bus.close()


class StreamCallServer:
    """Serves the calls on a role's work stream through the role's own app, in process."""

    def __init__(
        self,
        *,
        role: str,
        bus: RedisStreamsEventBus,
        app: ASGIApp,
        api_key: str | None = None,
        consumers: int | None = None,
    ) -> None:
        self.role = role
        self.stream = CALL_STREAMS[role]
        self.bus = bus
        self.consumers = consumers or CONSUMERS[role]
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # A loopback caller, as a peer on this host would be; with keys, the role's own
        # SERVICE_API_KEY (no key travels on the stream).
        self._routes = InProcessCaller(app, headers=headers)
        self.served = 0
        self.expired = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        name = f"{socket.gethostname()}-{os.getpid()}"
        self._tasks = [
            asyncio.create_task(
                run_consumer(
                    self.bus,
                    self.stream,
                    group=self.role,
                    consumer=f"{name}-{i}",
                    handler=self.serve,
                    stop=self._stop,
                    count=1,
                ),
                name=f"{self.role}-calls-{i}",
            )
            for i in range(self.consumers)
        ]

    async def serve(self, event: Event) -> None:
        """Serve one call and answer it; a call whose caller gave up is dropped."""
        if not isinstance(event, RoleCallRequested):
            log.warning("a %s event on the %s stream; ignored", event.type, self.stream)
            return
        if event.expires_at < time.time():
            self.expired += 1
            return
        status, body = await self._routes.post(event.path, event.body)
        answer = RoleCallAnswered(call_id=event.call_id, status=status, body=body)
        await self.bus.publish(event.reply_to, answer)
        self.served += 1

    async def close(self) -> None:
        self._stop.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=3.0)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
