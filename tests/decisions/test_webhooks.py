"""Signed webhooks against a real local HTTP receiver: the signature verifies, a replay is
rejected, a receiver that is down and comes back gets the event exactly once, and deliveries
that keep failing land in the dead-letter store."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from chatguard.api import create_app
from chatguard.config import load_settings
from chatguard.decisions.repository import DecisionRepository
from chatguard.decisions.webhooks import (
    DEAD,
    DELIVERED,
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Backoff,
    WebhookSender,
    WebhookVerifier,
    sign,
    verify_signature,
)
from chatguard.errors import WebhookVerificationError
from tests.conftest import free_port

SECRET = "test-secret-0123456789abcdef"


class Receiver:
    """A platform's webhook endpoint: verifies each request with `WebhookVerifier`, answers
    204 or 401, and can be taken down and brought back up on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hook"
        self.verifier = WebhookVerifier(secret=SECRET)
        self.accepted: list[dict[str, Any]] = []
        self.raw: list[tuple[bytes, dict[str, str]]] = []
        self.rejected: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = dict(self.headers.items())
                with receiver._lock:
                    try:
                        receiver.verifier.verify(body, headers)
                    except WebhookVerificationError as exc:
                        receiver.rejected.append(str(exc))
                        self.send_response(401)
                    else:
                        receiver.accepted.append(json.loads(body))
                        receiver.raw.append((body, headers))
                        self.send_response(204)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port())
    yield r
    r.down()


@pytest.fixture
async def sender(
    repository: DecisionRepository, receiver: Receiver
) -> AsyncIterator[WebhookSender]:
    s = WebhookSender(
        urls=[receiver.url],
        secret=SecretStr(SECRET),
        repository=repository,
        backoff=Backoff(attempts=30, base_s=0.05, factor=1.5, max_s=0.2),
    )
    yield s
    await s.close()


EVENT = {"type": "decision", "message_id": "m1", "action": "ban", "channel_id": "c"}


def test_signature_verifies_and_anything_else_fails() -> None:
    body, now = b'{"a":1}', 1_800_000_000
    headers = {TIMESTAMP_HEADER: str(now), SIGNATURE_HEADER: sign(SECRET, now, body)}
    assert verify_signature(SECRET, body, headers, now=now) == now
    bad = [
        ("tampered body", SECRET, b'{"a":2}', headers, now),
        ("wrong secret", "another-secret-of-some-length", body, headers, now),
        ("stale", SECRET, body, headers, now + 301),
        ("from the future", SECRET, body, headers, now - 301),
        ("no signature", SECRET, body, {TIMESTAMP_HEADER: str(now)}, now),
        ("moved timestamp", SECRET, body, {**headers, TIMESTAMP_HEADER: str(now + 1)}, now),
    ]
    for what, secret, b, h, at in bad:
        with pytest.raises(WebhookVerificationError):
            verify_signature(secret, b, h, now=at)
            pytest.fail(what)


async def test_a_delivery_verifies_and_its_replay_is_rejected(
    sender: WebhookSender, receiver: Receiver, repository: DecisionRepository
) -> None:
    receiver.up()
    [delivery] = await sender.send(EVENT)
    await sender.drain()
    assert receiver.accepted == [EVENT]
    body, headers = receiver.raw[0]
    assert headers[DELIVERY_HEADER] == delivery.id
    assert headers[SIGNATURE_HEADER] == sign(SECRET, int(headers[TIMESTAMP_HEADER]), body)

    # An attacker who captured the request sends it again: refused.
    async with httpx.AsyncClient() as client:
        replay = await client.post(receiver.url, content=body, headers=headers)
    assert replay.status_code == 401 and "replay" in receiver.rejected[-1]
    assert len(receiver.accepted) == 1
    stored = await repository.delivery(delivery.id)
    assert stored is not None and (stored.status, stored.attempts) == (DELIVERED, 1)


async def test_receiver_down_then_up_gets_the_event_exactly_once(
    sender: WebhookSender, receiver: Receiver, repository: DecisionRepository
) -> None:
    [delivery] = await sender.send(EVENT)
    deadline = time.monotonic() + 10
    while (await repository.delivery(delivery.id)).attempts < 3:  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the sender did not retry"
        await asyncio.sleep(0.02)
    receiver.up()
    await sender.drain()
    await asyncio.sleep(0.3)  # time for a duplicate, were there one
    assert receiver.accepted == [EVENT] and receiver.rejected == []
    stored = await repository.delivery(delivery.id)
    assert stored is not None and stored.status == DELIVERED and stored.attempts >= 4
    assert sender.delivered == 1 and sender.failed_attempts >= 3


async def test_undeliverable_events_become_dead_letters_and_can_be_retried(
    repository: DecisionRepository, receiver: Receiver
) -> None:
    sender = WebhookSender(
        urls=[receiver.url],
        secret=SecretStr(SECRET),
        repository=repository,
        backoff=Backoff(attempts=3, base_s=0.01, max_s=0.02),
    )
    try:
        [delivery] = await sender.send(EVENT)
        await sender.drain()
        [dead] = await repository.deliveries(status=DEAD)
        assert (dead.id, dead.attempts, dead.last_error) == (delivery.id, 3, "ConnectError")
        receiver.up()
        await sender.retry_dead(delivery.id)
        await sender.drain()
        assert receiver.accepted == [EVENT]
        assert await repository.deliveries(status=DEAD) == []
    finally:
        await sender.close()


async def test_the_service_sends_its_actions_to_the_webhook(
    database_url: str, receiver: Receiver
) -> None:
    receiver.up()
    settings = load_settings(
        database_url=database_url,
        pipeline_stages="rules",
        webhook_urls=receiver.url,
        webhook_secret=SECRET,
        _env_file=None,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cg") as api:
            for text in ("hello there", "kys"):
                body = {"message": text, "user_id": "u", "channel_id": "lobby"}
                assert (await api.post("/moderate", json=body)).status_code == 200
            webhooks = app.state.service.decider.webhooks
            deadline = time.monotonic() + 10
            while not receiver.accepted:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            await webhooks.drain()
            dead = (await api.get("/webhooks/dead-letters")).json()["dead_letters"]
            metrics = (await api.get("/metrics")).text
    assert 'chatguard_webhook_attempts_total{outcome="delivered"} 1.0' in metrics
    [event] = receiver.accepted  # the clean message is not sent, the removal is
    assert (event["type"], event["action"], event["user_id"]) == ("decision", "delete", "u")
    assert "kys" not in json.dumps(event)  # ids, action and reason; never the text
    assert dead == []


async def test_pending_deliveries_survive_a_restart(
    repository: DecisionRepository, receiver: Receiver
) -> None:
    def new_sender() -> WebhookSender:
        return WebhookSender(
            urls=[receiver.url],
            secret=SecretStr(SECRET),
            repository=repository,
            backoff=Backoff(attempts=50, base_s=0.05, max_s=0.1),
        )

    first = new_sender()
    [delivery] = await first.send(EVENT)
    await asyncio.sleep(0.1)  # a failed attempt or two, receiver down
    await first.close()  # the process stops with the delivery still pending
    stored = await repository.delivery(delivery.id)
    assert stored is not None and stored.status == "pending" and stored.attempts >= 1
    before = stored.attempts

    receiver.up()
    second = new_sender()
    try:
        await second.start()  # resumes what was pending
        await second.drain()
    finally:
        await second.close()
    assert receiver.accepted == [EVENT]
    stored = await repository.delivery(delivery.id)
    assert stored is not None and (stored.status, stored.attempts) == (DELIVERED, before + 1)
