"""The event bus's counters as Prometheus metrics, read from the bus when scraped (nothing on
the publishing path)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from chatguard.events.bus import BusCounters

_HELP = {
    "published": "Events published",
    "dropped": "Events a slow subscriber lost (its queue was full)",
    "completed": "Work entries handled and acknowledged",
    "failed": "Work entries whose handler failed (delivered again later)",
    "retried": "Deliveries of a work entry after its first",
    "dead_lettered": "Work entries moved to the dead-letter stream",
    "refused": "Publishes refused because a work stream was over its bound",
    "lost": "Topic events lost because the transport was unavailable",
}


class BusCollector(Collector):
    """`chatguard_events_<kind>_total{topic, bus}` for each counter of `BusCounters`."""

    def __init__(self, counters: BusCounters, bus: str) -> None:
        self._counters = counters
        self._bus = bus

    def collect(self) -> Iterator[CounterMetricFamily]:
        for kind, help_text in _HELP.items():
            family = CounterMetricFamily(
                f"chatguard_events_{kind}", help_text, labels=["bus", "topic"]
            )
            for topic, value in sorted(getattr(self._counters, kind).items()):
                family.add_metric([self._bus, topic], value)
            yield family


def register_bus_metrics(registry: CollectorRegistry, counters: BusCounters, bus: str) -> None:
    """Expose `counters` on `registry`."""
    registry.register(BusCollector(counters, bus))
