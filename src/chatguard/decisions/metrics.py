"""Prometheus counters of the decision handler, on the service's registry once started."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class DecisionMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.actions = Counter(
            "chatguard_policy_actions_total",
            "Decisions by action and channel policy",
            ["action", "policy"],
            registry=r,
        )
        self.strikes = Counter(
            "chatguard_strikes_total",
            "Strikes given (auto: by policy, review: by a moderator)",
            ["source"],
            registry=r,
        )
        self.reviews = Counter(
            "chatguard_review_items_total",
            "Review queue items held and resolved, by outcome",
            ["outcome"],
            registry=r,
        )
        self.webhooks = Counter(
            "chatguard_webhook_attempts_total",
            "Webhook attempts: delivered, failed, dead",
            ["outcome"],
            registry=r,
        )
