"""Stages that run in another role: the `Stage` interface on one side, a `RoleTransport` on
the other. The pipeline cannot tell them from in-process stages: a remote stage returns the
other role's results, and a role that is away is a failed stage (recorded in the trail, the
cascade goes on) and a degraded component of `/health`, never an error of the request."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from chatguard.config import FILTER_STAGES
from chatguard.domain import StageResult
from chatguard.pipeline.registry import build_stage
from chatguard.pipeline.stage import ComponentHealth, Stage, StageInput
from chatguard.roles.connect import role_transport
from chatguard.roles.transport import (
    HealthProbe,
    RoleTransport,
    RoleUnavailableError,
)
from chatguard.roles.wire import WireFormatError, input_to_wire, results_from_wire

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from chatguard.config import Settings

log = logging.getLogger(__name__)

#: Where each role serves its stages.
FILTER_PATH = "/filter"
ADJUDICATE_PATH = "/adjudicate"
#: Seconds the pipeline waits beyond the transport's own timeout, so that the transport's
#: clearer error (which role, which cause) is the one recorded.
_GRACE_S = 1.0


class RemoteStage(Stage):
    """A stage served by another role at `path`. Subclasses fix what kind of stage it is."""

    #: Recent channel lines sent along (a stage that reads the channel: the LLM).
    channel_lines: int = 0

    def __init__(
        self,
        *,
        stage_name: str,
        transport: RoleTransport,
        path: str,
        timeout_s: float,
        channel_lines: int = 0,
        probe_interval_s: float = 5.0,
    ) -> None:
        super().__init__(timeout_s=timeout_s + _GRACE_S)
        self.stage_name = stage_name
        self.transport = transport
        self.path = path
        self.channel_lines = channel_lines
        self.probe = HealthProbe(transport, interval_s=probe_interval_s)

    # `name` is a class attribute on in-process stages; a remote one takes the name of the
    # stage it stands for, so the trail and `decided_by` read the same either way.
    @property  # type: ignore[override]
    def name(self) -> str:  # type: ignore[override]
        return self.stage_name

    async def assess(self, items: Sequence[StageInput]) -> list[StageResult]:
        """The other role's results; while it is away, a failed result per item (as an
        in-process stage that fails: the trail records it and the cascade goes on), without
        a traceback per message: the transport logs the role going away once."""
        started = time.perf_counter()
        body = {
            "stage": self.stage_name,
            "items": [input_to_wire(i, channel_lines=self.channel_lines) for i in items],
        }
        try:
            answer = await self.transport.call(self.path, body)
            results = results_from_wire(answer.get("results", ()))
            if len(results) != len(items):
                raise RoleUnavailableError(
                    f"the {self.transport.target} returned {len(results)} results "
                    f"for {len(items)} inputs"
                )
        except (RoleUnavailableError, WireFormatError) as exc:
            latency = (time.perf_counter() - started) * 1000
            error = f"{type(exc).__name__}: {exc}"
            return [StageResult(self.name, latency_ms=latency, error=error) for _ in items]
        return results

    async def start(self) -> None:
        await self.probe.start()

    async def close(self) -> None:
        await self.probe.close()
        await self.transport.close()

    def register_metrics(self, registry: CollectorRegistry) -> None:
        bind = getattr(self.transport, "bind_metrics", None)
        if callable(bind):
            bind(registry)

    def health(self) -> ComponentHealth:
        where = getattr(self.transport, "base_url", self.transport.target)
        error = getattr(self.transport, "last_error", None)
        if error is None:
            return ComponentHealth(
                self.name, True, f"remote: the {self.transport.target} at {where}", essential=False
            )
        return ComponentHealth(
            self.name,
            False,
            f"the {self.transport.target} at {where} {error}; moderation goes on without it",
            # Moderation goes on without it (the next stages judge): degraded, not down.
            essential=False,
        )


class RemoteFilterStage(RemoteStage):
    """The lightweight filter (or one of its parts), served by the filter role."""

    can_clear: ClassVar[bool] = False
    escalation: ClassVar[bool] = False


class RemoteLLMStage(RemoteStage):
    """LLM adjudication, served by the llm-worker role."""

    can_clear: ClassVar[bool] = True
    escalation: ClassVar[bool] = True


def remote_stage(name: str, settings: Settings) -> RemoteStage | None:
    """The remote stand-in for stage `name` when the settings name a role serving it
    (FILTER_ENDPOINT for the filter's stages, LLM_WORKER_ENDPOINT for the LLM), else None."""
    if name in FILTER_STAGES and settings.filter_endpoint is not None:
        transport = role_transport(
            settings, target="filter role", role="filter", base_url=settings.filter_endpoint
        )
        return RemoteFilterStage(
            stage_name=name,
            transport=transport,
            path=FILTER_PATH,
            timeout_s=settings.request_timeout,
        )
    if name == "llm" and settings.llm_worker_endpoint is not None:
        transport = role_transport(
            settings,
            target="llm-worker role",
            role="llm-worker",
            base_url=settings.llm_worker_endpoint,
        )
        return RemoteLLMStage(
            stage_name=name,
            transport=transport,
            path=ADJUDICATE_PATH,
            timeout_s=settings.request_timeout,
            channel_lines=settings.llm_context_messages,
        )
    return None


def build_stages(settings: Settings) -> list[Stage]:
    """The configured cascade: each stage in process, or remote where another role serves it."""
    if settings.llm_worker_endpoint is not None and settings.llm_endpoint is not None:
        log.info("LLM_WORKER_ENDPOINT is set: the llm-worker role calls LLM_ENDPOINT, not this one")
    return [remote_stage(n, settings) or build_stage(n, settings) for n in settings.stage_names]
