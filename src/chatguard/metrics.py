"""Prometheus metrics of the moderation core, on a registry of their own (one per service, so
tests and several services in one process do not collide)."""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from chatguard.domain import Decision

LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


_DEGRADED: WeakKeyDictionary[CollectorRegistry, Counter] = WeakKeyDictionary()


def degraded_counter(registry: CollectorRegistry) -> Counter:
    """`chatguard_degraded_total{component}` on `registry`: operations served in a degraded way
    because a component (Redis, the database) was unavailable. One counter per registry,
    shared by every part that degrades."""
    counter = _DEGRADED.get(registry)
    if counter is None:
        counter = Counter(
            "chatguard_degraded",
            "Operations served degraded because a component was unavailable",
            ["component"],
            registry=registry,
        )
        _DEGRADED[registry] = counter
    return counter


class ModerationMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.messages = Counter(
            "chatguard_messages_total", "Messages moderated", ["action", "decided_by"], registry=r
        )
        self.flagged = Counter(
            "chatguard_flagged_total", "Messages with a flagged category", ["category"], registry=r
        )
        self.escalations = Counter(
            "chatguard_escalations_total", "Messages routed to the adjudicator", registry=r
        )
        self.stage_latency = Histogram(
            "chatguard_stage_latency_seconds",
            "Time per stage",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stage_errors = Counter(
            "chatguard_stage_errors_total", "Stage failures and timeouts", ["stage"], registry=r
        )
        self.latency = Histogram(
            "chatguard_moderation_latency_seconds",
            "Time from arrival to decision",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rejected = Counter(
            "chatguard_rejected_requests_total",
            "Requests refused as invalid",
            ["reason"],
            registry=r,
        )
        self.provisional = Counter(
            "chatguard_provisional_decisions_total",
            "Decisions given before the adjudicator answered",
            ["action"],
            registry=r,
        )
        self.finals = Counter(
            "chatguard_final_decisions_total",
            "Final decisions replacing provisional ones",
            ["action", "changed"],
            registry=r,
        )
        self.degraded = degraded_counter(r)
        self.component_up = Gauge(
            "chatguard_component_up", "1 when a component is healthy", ["component"], registry=r
        )

    def _child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, remembered: `labels` takes a lock and checks its values
        on every call, and every message is counted in several metrics."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, decision: Decision) -> None:
        assessment = decision.assessment
        child = self._child
        child(self.messages, decision.action.value, assessment.decided_by).inc()
        for category in assessment.flagged_categories():
            child(self.flagged, category.value).inc()
        if assessment.escalated:
            self.escalations.inc()
        for trace in assessment.trail:
            child(self.stage_latency, trace.stage).observe(trace.latency_ms / 1000)
            if trace.error:
                self.stage_errors.labels(trace.stage).inc()
        self.latency.observe(decision.processing_time_ms / 1000)
        if decision.provisional:
            self.provisional.labels(decision.action.value).inc()

    def observe_final(self, decision: Decision, earlier: Decision) -> None:
        """A final decision replacing the provisional `earlier` one (the message was counted
        once already, in `messages`); the stages that ran since are measured here."""
        changed = "yes" if decision.action != earlier.action else "no"
        self.finals.labels(decision.action.value, changed).inc()
        for trace in decision.assessment.trail[len(earlier.assessment.trail) :]:
            self.stage_latency.labels(trace.stage).observe(trace.latency_ms / 1000)
            if trace.error:
                self.stage_errors.labels(trace.stage).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
