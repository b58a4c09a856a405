"""Prometheus metrics of storage while the database comes and goes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from chatguard.metrics import LATENCY_BUCKETS

#: Callers (requests) whose saves one transaction held.
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class StorageMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.failures = Counter(
            "chatguard_database_failures_total",
            "Database operations that failed (the database was unreachable or failed)",
            ["operation"],
            registry=r,
        )
        self.spool = Counter(
            "chatguard_spool_messages_total",
            "Decisions through the local spool: spooled (database away), flushed (stored "
            "later), refused (spool full), dropped (could not be stored)",
            ["outcome"],
            registry=r,
        )
        self.depth = Gauge(
            "chatguard_spool_depth",
            "Decisions in the local spool waiting for the database",
            registry=r,
        )
        self.recovered = Counter(
            "chatguard_recovered_decisions_total",
            "Provisional decisions of an earlier run finalised at start",
            registry=r,
        )
        self.store_seconds = Histogram(
            "chatguard_store_seconds",
            "Time a request waited on the store: looking up stored decisions (read) and "
            "storing new ones until committed (save)",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.group_callers = Histogram(
            "chatguard_store_group_callers",
            "Saves (requests) that shared one transaction (group commit)",
            buckets=GROUP_BUCKETS,
            registry=r,
        )
        self.group_seconds = Histogram(
            "chatguard_store_group_seconds",
            "Time one group transaction took",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def observe_group(self, callers: int, _entries: int, seconds: float) -> None:
        """A group commit wrote `callers` saves in `seconds`."""
        self.group_callers.observe(callers)
        self.group_seconds.observe(seconds)
