"""How one role calls another: a small interface (`RoleTransport`) and its HTTP implementation.

The remote stage and the remote decider only know `RoleTransport.call(path, body)`;
`chatguard.roles.connect.role_transport` gives them this HTTP one, or with
`ROLE_TRANSPORT=redis` the one over the callee's work stream (`chatguard.roles.streams`). Every call
carries the service key (`SERVICE_API_KEY`) as a Bearer token and is bounded by
`REQUEST_TIMEOUT`. Failures are `RoleUnavailableError` with a message naming the role and the
cause, never the body (it holds message text) or the key.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from prometheus_client import Counter

from chatguard.errors import StageUnavailableError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from chatguard.config import Settings


log = logging.getLogger(__name__)


class RoleUnavailableError(StageUnavailableError):
    """Another role did not answer, refused the call or answered something unusable."""


class RoleTransport(Protocol):
    """Calls one other role."""

    #: What the role is called in messages and health details (e.g. "filter role").
    target: str

    async def call(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Send `body` to the role's `path`; its JSON answer, or `RoleUnavailableError`."""
        ...

    async def probe(self) -> bool:
        """Does the role answer its health check?"""
        ...

    async def close(self) -> None: ...


_CALLS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()


def role_calls_counter(registry: CollectorRegistry) -> Counter:
    """`chatguard_role_calls_total{target, outcome}`: calls to other roles (ok, failed), one
    counter per registry."""
    counter = _CALLS.get(registry)
    if counter is None:
        counter = Counter(
            "chatguard_role_calls",
            "Calls to another chatguard role, by outcome",
            ["target", "outcome"],
            registry=registry,
        )
        _CALLS[registry] = counter
    return counter


def refusal(status: int, body: Any) -> str | None:
    """Why an answer of another role cannot be used (said after the role's name), or None."""
    if status in (401, 403):
        return f"refused the service key ({status})"
    if status != 200:
        return f"answered {status}"
    if not isinstance(body, dict):
        return "answered with a body that is not a JSON object"
    return None


class HttpRoleTransport:
    """`RoleTransport` over HTTP with one pooled client."""

    def __init__(
        self,
        *,
        target: str,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.target = target
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout_s
        )
        self.last_ok_at: float | None = None
        self.last_error: str | None = None
        self.calls: Counter | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, target: str, base_url: str) -> HttpRoleTransport:
        key = settings.service_api_key.get_secret_value() if settings.service_api_key else None
        return cls(
            target=target, base_url=base_url, api_key=key, timeout_s=settings.request_timeout
        )

    def bind_metrics(self, registry: CollectorRegistry) -> None:
        self.calls = role_calls_counter(registry)

    async def call(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            response = await self._client.post(path, json=body)
        except httpx.TimeoutException:
            raise self._failed(f"no answer within {self.timeout_s:g}s") from None
        except httpx.HTTPError as exc:
            raise self._failed(f"unreachable ({type(exc).__name__})") from None
        answer: Any = None
        try:
            if response.status_code == 200:
                answer = response.json()
        except ValueError:
            raise self._failed("answered with a body that is not JSON") from None
        why = refusal(response.status_code, answer)
        if why is not None:
            raise self._failed(why)
        self._succeeded()
        return dict(answer)

    async def probe(self) -> bool:
        try:
            response = await self._client.get("/health")
        except httpx.HTTPError as exc:
            self._failed(f"unreachable ({type(exc).__name__})", count=False)
            return False
        if response.status_code != 200:
            self._failed(f"health answered {response.status_code}", count=False)
            return False
        self._succeeded(count=False)
        return True

    @property
    def up(self) -> bool:
        """Did the last call or probe succeed (True before the first)?"""
        return self.last_error is None

    def _succeeded(self, *, count: bool = True) -> None:
        if self.last_error is not None:
            log.info("the %s at %s answers again", self.target, self.base_url)
        self.last_ok_at = time.time()
        self.last_error = None
        if count and self.calls is not None:
            self.calls.labels(self.target, "ok").inc()

    def _failed(self, why: str, *, count: bool = True) -> RoleUnavailableError:
        if self.last_error is None:  # once when it goes away, not per call
            log.warning("the %s at %s %s", self.target, self.base_url, why)
        self.last_error = why
        if count and self.calls is not None:
            self.calls.labels(self.target, "failed").inc()
        return RoleUnavailableError(f"the {self.target} at {self.base_url} {why}")

    async def close(self) -> None:
        await self._client.aclose()


class HealthProbe:
    """Asks a transport's role for its health every `interval_s`, so that `/health` tells a
    role that is away even while no message needs it."""

    def __init__(self, transport: RoleTransport, *, interval_s: float = 5.0) -> None:
        self.transport = transport
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.transport.probe()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.transport.probe()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
