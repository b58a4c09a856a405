"""Signed webhooks for platform integrations.

Each request carries `X-Chatguard-Timestamp` (unix seconds), `X-Chatguard-Delivery` (a unique id)
and `X-Chatguard-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. A receiver checks
the signature, refuses timestamps outside a tolerance (a captured request cannot be replayed
later) and remembers delivery ids within it (nor replayed now): `WebhookVerifier` does all three.

Deliveries are an outbox: a decision's deliveries are rows written in the transaction that
stores the decision (see `decisions/outbox.py`), one per message, URL and event type; the sender
drains them. It attempts rows as their transactions commit (`wake`), resumes pending rows at
start and sweeps for pending rows nobody is attempting (written by another process, or while
this one was busy), retries with exponential backoff and jitter, and after the last attempt
leaves the row in the dead-letter store, from which it can be retried by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from chatguard.decisions.metrics import DecisionMetrics
from chatguard.decisions.outbox import PENDING, deliveries_for
from chatguard.decisions.records import Delivery
from chatguard.decisions.repository import DecisionRepository
from chatguard.errors import NotFoundError, StoreUnavailableError, WebhookVerificationError

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Chatguard-Timestamp"
SIGNATURE_HEADER = "X-Chatguard-Signature"
DELIVERY_HEADER = "X-Chatguard-Delivery"
EVENT_HEADER = "X-Chatguard-Event"

DELIVERED, DEAD = "delivered", "dead"


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str | bytes,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> int:
    """Check the signature and the timestamp's freshness; returns the timestamp.
    Raises WebhookVerificationError naming what is wrong."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ts = lowered.get(TIMESTAMP_HEADER.lower())
    signature = lowered.get(SIGNATURE_HEADER.lower())
    if raw_ts is None or signature is None:
        raise WebhookVerificationError("missing timestamp or signature header")
    try:
        timestamp = int(raw_ts)
    except ValueError:
        raise WebhookVerificationError("timestamp is not an integer") from None
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise WebhookVerificationError("signature does not match")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookVerificationError("timestamp outside the tolerance (replayed or stale)")
    return timestamp


class WebhookVerifier:
    """Receiver-side check: signature, fresh timestamp, and each delivery id accepted once
    within the tolerance window."""

    def __init__(self, *, secret: str | bytes, tolerance_s: float = 300.0) -> None:
        self._secret = secret
        self.tolerance_s = tolerance_s
        self._seen: dict[str, float] = {}

    def verify(self, body: bytes, headers: Mapping[str, str], *, now: float | None = None) -> None:
        current = time.time() if now is None else now
        verify_signature(self._secret, body, headers, tolerance_s=self.tolerance_s, now=current)
        delivery = {k.lower(): v for k, v in headers.items()}.get(DELIVERY_HEADER.lower())
        if not delivery:
            raise WebhookVerificationError("missing delivery id")
        # Ids older than the window can go: their timestamps would fail the check anyway.
        horizon = current - 2 * self.tolerance_s
        self._seen = {k: t for k, t in self._seen.items() if t >= horizon}
        if delivery in self._seen:
            raise WebhookVerificationError("delivery id already seen (replay)")
        self._seen[delivery] = current


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before attempt n+1: base * factor**(n-1), capped, with up to 10% jitter."""

    attempts: int = 6
    base_s: float = 0.5
    factor: float = 2.0
    max_s: float = 60.0

    def delay(self, attempt: int) -> float:
        raw = min(self.max_s, self.base_s * self.factor ** (attempt - 1))
        return raw * (1 + random.random() * 0.1)


class WebhookSender:
    """Delivers events to every configured URL, at least once; receivers dedupe by delivery id
    (WebhookVerifier does)."""

    def __init__(
        self,
        *,
        urls: list[str],
        secret: SecretStr,
        repository: DecisionRepository,
        backoff: Backoff | None = None,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
        sweep_s: float = 5.0,
    ) -> None:
        self.urls = urls
        self._secret = secret
        self.repository = repository
        self.backoff = backoff or Backoff()
        self.clock = clock
        self._client = httpx.AsyncClient(timeout=timeout_s)
        self.sweep_s = sweep_s
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight: set[str] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.delivered = 0
        self.failed_attempts = 0
        self.dead = 0
        self.metrics = DecisionMetrics()

    async def start(self) -> None:
        """Resume deliveries left pending by a previous run, and sweep for pending ones from
        now on."""
        with contextlib.suppress(StoreUnavailableError):  # the sweep finds them later
            await self.sweep()
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_loop(), name="webhook-sweep")

    async def sweep(self) -> int:
        """Attempt every pending delivery nobody in this process is attempting."""
        found = 0
        for delivery in await self.repository.deliveries(status=PENDING, limit=1000):
            if delivery.id not in self._inflight:
                self._spawn(delivery)
                found += 1
        return found

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_s)
            with contextlib.suppress(StoreUnavailableError):  # the rows wait for the database
                await self.sweep()

    def wake(self, deliveries: tuple[Delivery, ...] | list[Delivery]) -> None:
        """Attempt deliveries whose transaction has just committed."""
        for delivery in deliveries:
            if delivery.id not in self._inflight:
                self._spawn(delivery)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.aclose()

    async def send(self, event: Mapping[str, Any]) -> list[Delivery]:
        """Put one delivery per URL in the outbox, then attempt them in the background. An
        event already in the outbox for a URL (the same message's) is not added again."""
        created = []
        for delivery in deliveries_for(event, self.urls, self.clock()):
            if await self.repository.add_delivery(delivery):
                self._spawn(delivery)
                created.append(delivery)
        return created

    async def retry_dead(self, delivery_id: str) -> Delivery:
        """Send a dead letter again, with a fresh round of attempts."""
        delivery = await self.repository.delivery(delivery_id)
        if delivery is None or delivery.status != DEAD:
            raise NotFoundError(f"no dead letter {delivery_id!r}")
        await self.repository.update_delivery(
            delivery_id,
            status=PENDING,
            attempts=delivery.attempts,
            error=delivery.last_error,
            at=self.clock(),
        )
        self._spawn(delivery)
        return delivery

    async def drain(self) -> None:
        """Wait until every delivery in flight has succeeded or died."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, delivery: Delivery) -> None:
        self._inflight.add(delivery.id)
        task = asyncio.create_task(self._deliver_once(delivery), name=f"webhook-{delivery.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_once(self, delivery: Delivery) -> None:
        try:
            await self._deliver(delivery)
        except StoreUnavailableError:
            # The outcome could not be recorded: the row stays pending and the sweep tries
            # again (at least once; receivers drop repeats by delivery id).
            log.warning("webhook %s: the outbox is unavailable", delivery.id)
        finally:
            self._inflight.discard(delivery.id)

    async def _deliver(self, delivery: Delivery) -> None:
        """One round of attempts; `attempts` in the store counts every attempt ever made."""
        body = delivery.body.encode()
        error: str | None = None
        total = delivery.attempts
        for attempt in range(1, self.backoff.attempts + 1):
            total += 1
            error = await self._attempt(delivery, body)
            if error is None:
                self.delivered += 1
                self.metrics.webhooks.labels("delivered").inc()
                await self.repository.update_delivery(
                    delivery.id, status=DELIVERED, attempts=total, error=None, at=self.clock()
                )
                return
            self.failed_attempts += 1
            self.metrics.webhooks.labels("failed").inc()
            log.info("webhook %s attempt %d failed: %s", delivery.id, total, error)
            await self.repository.update_delivery(
                delivery.id, status=PENDING, attempts=total, error=error, at=self.clock()
            )
            if attempt < self.backoff.attempts:
                await asyncio.sleep(self.backoff.delay(attempt))
        self.dead += 1
        self.metrics.webhooks.labels("dead").inc()
        log.warning("webhook %s dead after %d attempts", delivery.id, total)
        await self.repository.update_delivery(
            delivery.id, status=DEAD, attempts=total, error=error, at=self.clock()
        )

    async def _attempt(self, delivery: Delivery, body: bytes) -> str | None:
        timestamp = int(self.clock())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._secret.get_secret_value(), timestamp, body),
            DELIVERY_HEADER: delivery.id,
            EVENT_HEADER: delivery.event_type,
        }
        try:
            response = await self._client.post(delivery.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"
