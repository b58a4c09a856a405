"""The limits chatguard applies: requests per caller (an API key, or the client address in open
local mode) and messages per chat user (channel and user id)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter

from chatguard.config import Settings
from chatguard.errors import RateLimitedError
from chatguard.ratelimit.buckets import Buckets, BucketSpec, InProcessBuckets, Take
from chatguard.ratelimit.redis_buckets import RedisBuckets

#: A key's own rate (`chatguard keys create --rate N`) bursts to this many seconds' worth.
KEY_BURST_SECONDS = 2.0


class RateLimiter:
    def __init__(
        self,
        *,
        buckets: Buckets,
        caller: BucketSpec,
        user: BucketSpec,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.buckets = buckets
        self.caller = caller
        self.user = user
        registry = registry or CollectorRegistry()
        self.limited = Counter(
            "chatguard_rate_limited_total",
            "Requests refused by a rate limit",
            ["bucket"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "chatguard_rate_limit_fallback_total",
            "Rate-limit decisions made in process because Redis could not be reached",
            registry=registry,
        )
        if isinstance(buckets, RedisBuckets):
            buckets.on_fallback = self.fallbacks.inc

    @classmethod
    def from_settings(
        cls, settings: Settings, *, registry: CollectorRegistry | None = None
    ) -> RateLimiter:
        buckets: Buckets = (
            RedisBuckets(settings.redis_url, prefix=settings.rate_limit_prefix)
            if settings.redis_url
            else InProcessBuckets()
        )
        return cls(
            buckets=buckets,
            caller=BucketSpec(settings.rate_limit_key_per_s, settings.rate_limit_key_burst),
            user=BucketSpec(settings.rate_limit_user_per_s, settings.rate_limit_user_burst),
            registry=registry,
        )

    async def check_caller(self, caller: str, *, rate_per_s: float | None = None) -> None:
        """One request from `caller`; `rate_per_s` (a key's own rate) overrides the default."""
        spec = self.caller
        if rate_per_s is not None:
            spec = BucketSpec(rate_per_s, max(1, math.ceil(rate_per_s * KEY_BURST_SECONDS)))
        if not spec.enabled:
            return
        verdict = await self.buckets.take([Take(f"caller:{caller}", spec)])
        if not verdict.allowed:
            self.limited.labels("caller").inc()
            raise RateLimitedError(
                "too many requests with this key; slow down", retry_after_s=verdict.retry_after_s
            )

    async def check_users(self, users: Iterable[tuple[str, str]]) -> None:
        """Messages from chat users, as (channel id, user id), one per message."""
        if not self.user.enabled:
            return
        counts: dict[tuple[str, str], int] = {}
        for pair in users:
            counts[pair] = counts.get(pair, 0) + 1
        takes = [
            Take(f"user:{len(channel)}:{channel}:{user}", self.user, cost)
            for (channel, user), cost in counts.items()
        ]
        verdict = await self.buckets.take(takes)
        if not verdict.allowed:
            self.limited.labels("user").inc()
            raise RateLimitedError(
                "too many messages from one chat user; slow down",
                retry_after_s=verdict.retry_after_s,
            )

    async def close(self) -> None:
        await self.buckets.close()
