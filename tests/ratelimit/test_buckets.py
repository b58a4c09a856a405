"""Token buckets: refill, all-or-nothing takes, Retry-After, and the same arithmetic in Redis
(the real server, db 15, a key prefix of the test's own)."""

from __future__ import annotations

import pytest
from redis import asyncio as aioredis

from chatguard.ratelimit import BucketSpec, InProcessBuckets, RedisBuckets, Take
from tests.conftest import REDIS_URL, free_port


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


SPEC = BucketSpec(rate_per_s=2.0, burst=4)


async def test_a_bucket_empties_and_refills() -> None:
    clock = Clock()
    buckets = InProcessBuckets(clock=clock)
    results = [(await buckets.take([Take("a", SPEC)])).allowed for _ in range(5)]
    assert results == [True, True, True, True, False]
    refused = await buckets.take([Take("a", SPEC)])
    assert refused.retry_after_s == 1 and refused.refused_key == "a"
    clock.now += 0.5  # one token back at 2 per second
    assert (await buckets.take([Take("a", SPEC)])).allowed
    assert not (await buckets.take([Take("a", SPEC)])).allowed


async def test_a_refused_take_costs_no_bucket_anything() -> None:
    buckets = InProcessBuckets(clock=Clock())
    assert (await buckets.take([Take("full", SPEC, 1), Take("big", SPEC, 3)])).allowed
    # "big" has 1 left: the request is refused, and "full" keeps its 3 tokens.
    assert not (await buckets.take([Take("full", SPEC, 1), Take("big", SPEC, 2)])).allowed
    assert (await buckets.take([Take("full", SPEC, 3)])).allowed


async def test_retry_after_is_whole_seconds_of_the_slowest_bucket() -> None:
    buckets = InProcessBuckets(clock=Clock())
    slow = BucketSpec(rate_per_s=0.1, burst=1)
    await buckets.take([Take("slow", slow)])
    verdict = await buckets.take([Take("fast", SPEC), Take("slow", slow)])
    assert (verdict.allowed, verdict.retry_after_s, verdict.refused_key) == (False, 10, "slow")


async def test_a_cost_above_the_burst_takes_a_full_bucket() -> None:
    buckets = InProcessBuckets(clock=Clock())
    assert (await buckets.take([Take("u", SPEC, 50)])).allowed
    assert not (await buckets.take([Take("u", SPEC, 1)])).allowed


async def test_the_least_recently_used_buckets_are_dropped() -> None:
    buckets = InProcessBuckets(max_buckets=2, clock=Clock())
    for key in ("a", "b", "c"):
        await buckets.take([Take(key, BucketSpec(1.0, 1))])
    assert (await buckets.take([Take("a", BucketSpec(1.0, 1))])).allowed  # "a" came back full
    assert not (await buckets.take([Take("c", BucketSpec(1.0, 1))])).allowed


@pytest.mark.redis
async def test_redis_buckets_are_shared_by_every_process(redis_prefix: str) -> None:
    first = RedisBuckets(REDIS_URL, prefix=redis_prefix)
    second = RedisBuckets(REDIS_URL, prefix=redis_prefix)  # another worker, same Redis
    spec = BucketSpec(rate_per_s=0.5, burst=3)
    try:
        results = [
            (await buckets.take([Take("k", spec)])).allowed
            for buckets in (first, second, first, second)
        ]
        assert results == [True, True, True, False]
        refused = await second.take([Take("k", spec), Take("other", spec)])
        assert not refused.allowed and refused.retry_after_s == 2 and refused.refused_key == "k"
        # All or nothing in Redis too: "other" was not charged.
        assert (await first.take([Take("other", spec, 3)])).allowed
        client = aioredis.Redis.from_url(REDIS_URL)
        ttl = await client.pttl(redis_prefix + "k")
        await client.aclose()
        assert 0 < ttl <= 7000  # the key expires once the bucket would be full again
    finally:
        await first.close()
        await second.close()


async def test_an_unreachable_redis_falls_back_to_in_process_buckets() -> None:
    fallbacks = []
    buckets = RedisBuckets(
        f"redis://127.0.0.1:{free_port()}/0",
        prefix="x:",
        on_fallback=lambda: fallbacks.append(1),
    )
    try:
        spec = BucketSpec(rate_per_s=1.0, burst=2)
        results = [(await buckets.take([Take("k", spec)])).allowed for _ in range(3)]
        assert results == [True, True, False] and len(fallbacks) == 3
    finally:
        await buckets.close()
