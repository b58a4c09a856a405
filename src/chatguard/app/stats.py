"""What the service reports about itself: health (open to everyone: probes and load
balancers), the Prometheus exposition, and a summary of what was moderated since the start
(scope: moderator)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from chatguard import __version__
from chatguard.app.access import MODERATE, require
from chatguard.auth import Principal
from chatguard.pipeline.stage import ComponentHealth
from chatguard.service import ModerationService

OK, DEGRADED, DOWN = "ok", "degraded", "down"


@dataclass(frozen=True, slots=True)
class HealthReport:
    """`ok` when every component is up, `degraded` when only optional ones (the LLM, the
    database while decisions are spooled) are down and moderation goes on, `down` when an
    essential one is."""

    status: str
    version: str
    uptime_s: float
    stages: tuple[str, ...]
    components: tuple[ComponentHealth, ...]

    @property
    def serving(self) -> bool:
        """Moderation works (every essential component is up)."""
        return self.status != DOWN


@dataclass(frozen=True, slots=True)
class ModerationSummary:
    """Counts since this process started (the Prometheus counters, summed)."""

    uptime_s: float
    messages: int
    by_action: dict[str, int]
    by_stage: dict[str, int]
    flagged: dict[str, int]
    escalations: int
    provisional: int

    @property
    def escalation_rate(self) -> float:
        """The share of messages that reached the adjudicator."""
        return self.escalations / self.messages if self.messages else 0.0


class Stats:
    def __init__(self, *, service: ModerationService) -> None:
        self.service = service

    async def health(self) -> HealthReport:
        """Each component's health (no principal: it is open to everyone)."""
        components = tuple(await self.service.health())
        serving = all(c.ok for c in components if c.essential)
        status = OK if all(c.ok for c in components) else DEGRADED if serving else DOWN
        return HealthReport(
            status=status,
            version=__version__,
            uptime_s=round(time.time() - self.service.started_at, 1),
            stages=tuple(self.service.pipeline.stage_names),
            components=components,
        )

    async def metrics_text(self) -> bytes:
        """The Prometheus text exposition, with the component gauges refreshed first. Who may
        read it is the adapter's setting (METRICS_REQUIRE_KEY), not a scope."""
        await self.service.health()
        return self.service.metrics.render()

    async def summary(self, principal: Principal) -> ModerationSummary:
        require(principal, MODERATE)
        metrics = self.service.metrics
        by_action = _totals(metrics.messages, "action")
        return ModerationSummary(
            uptime_s=round(time.time() - self.service.started_at, 1),
            messages=sum(by_action.values()),
            by_action=by_action,
            by_stage=_totals(metrics.messages, "decided_by"),
            flagged=_totals(metrics.flagged, "category"),
            escalations=sum(_totals(metrics.escalations, None).values()),
            provisional=sum(_totals(metrics.provisional, "action").values()),
        )


def _totals(counter: Any, label: str | None) -> dict[str, int]:
    """A counter's `_total` samples summed by one label (None: all under "")."""
    totals: dict[str, int] = {}
    for metric in counter.collect():
        for sample in metric.samples:
            if not sample.name.endswith("_total"):
                continue  # the `_created` timestamps
            key = sample.labels[label] if label is not None else ""
            totals[key] = totals.get(key, 0) + int(sample.value)
    return totals
