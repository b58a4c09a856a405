"""The LLM stage's Prometheus metrics, read at scrape time from the client's, breaker's, cache's
and batcher's own counters (one source of truth), plus histograms observed as calls happen.
The stage registers this collector on the service's registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from chatguard.llm.breaker import BreakerState

if TYPE_CHECKING:
    from chatguard.llm.stage import LLMStage

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class LLMMetrics(Collector):
    def __init__(self, stage: LLMStage) -> None:
        self._stage = stage
        self._own = CollectorRegistry()
        self.batch_size = Histogram(
            "chatguard_llm_batch_size",
            "Messages per LLM prompt",
            buckets=BATCH_BUCKETS,
            registry=self._own,
        )

    def collect(self) -> Iterator[Metric]:
        stage = self._stage
        stats = stage.client.stats
        yield _counter("chatguard_llm_calls", "Chat-completion requests sent", stats.calls)
        yield _counter("chatguard_llm_failures", "LLM calls failed after retries", stats.failures)
        yield _counter("chatguard_llm_retries", "LLM call attempts retried", stats.retries)
        tokens = CounterMetricFamily(
            "chatguard_llm_tokens", "Tokens used by the LLM", labels=["kind"]
        )
        tokens.add_metric(["prompt"], stats.prompt_tokens)
        tokens.add_metric(["completion"], stats.completion_tokens)
        yield tokens
        errors = CounterMetricFamily(
            "chatguard_llm_errors", "LLM call errors by kind", labels=["kind"]
        )
        for kind, count in sorted(stats.errors_by_kind.items()):
            errors.add_metric([kind], count)
        yield errors
        cache = stage.cache
        yield _counter("chatguard_llm_cache_hits", "Verdicts served from the cache", cache.hits)
        yield _counter("chatguard_llm_cache_misses", "Verdict cache misses", cache.misses)
        yield _counter(
            "chatguard_llm_shared",
            "Verdicts shared with an identical message already being judged",
            stage.shared,
        )
        yield _counter(
            "chatguard_llm_parse_failures",
            "LLM answers with no usable verdict",
            stage.parse_failures,
        )
        yield _counter(
            "chatguard_llm_truncated",
            "LLM answers cut off at LLM_MAX_TOKENS",
            stage.truncated,
        )
        yield _counter(
            "chatguard_llm_guard_rail",
            "Messages the guard rail kept from clearing",
            stage.guard_rail_hits,
        )
        yield _counter(
            "chatguard_llm_control_checks",
            "LLM answers checked against their control message",
            stage.control_checks,
        )
        yield _counter(
            "chatguard_llm_control_failures",
            "LLM answers that failed their control check (verdicts not used)",
            stage.control_failures,
        )
        breaker = stage.client.breaker
        state = GaugeMetricFamily(
            "chatguard_llm_breaker_state", "1 for the breaker's current state", labels=["state"]
        )
        current = breaker.state
        for option in BreakerState:
            state.add_metric([option.value], 1.0 if option is current else 0.0)
        yield state
        yield _counter(
            "chatguard_llm_breaker_opened", "Times the breaker opened", breaker.times_opened
        )
        yield GaugeMetricFamily(
            "chatguard_llm_in_flight", "LLM requests in flight", value=stats.in_flight
        )
        yield from self._own.collect()


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)
