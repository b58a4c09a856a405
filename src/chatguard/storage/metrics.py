"""Prometheus metrics of storage while the database comes and goes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


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
