"""The verdict cache: in-process LRU and the real Redis, behind one interface."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator

import pytest

from chatguard.llm.cache import CachedVerdict, LRUVerdictCache, RedisVerdictCache, cache_key
from chatguard.taxonomy import Category

VERDICT = CachedVerdict({Category.HARASSMENT: 0.9, Category.SPAM: 0.0}, "insult")


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.3).close()
        return True
    except OSError:
        return False


async def test_lru_hits_misses_and_evicts_the_least_recently_used() -> None:
    cache = LRUVerdictCache(max_entries=2)
    await cache.set("a", VERDICT)
    await cache.set("b", VERDICT)
    assert await cache.get("a") == VERDICT  # a is now the most recent
    await cache.set("c", VERDICT)
    assert await cache.get("b") is None
    assert await cache.get("a") == VERDICT and await cache.get("c") == VERDICT
    assert (cache.hits, cache.misses, len(cache)) == (3, 1, 2)


async def test_a_zero_size_lru_stores_nothing() -> None:
    cache = LRUVerdictCache(max_entries=0)
    await cache.set("a", VERDICT)
    assert await cache.get("a") is None


def test_keys_depend_on_text_and_policy_and_hold_no_text() -> None:
    key = cache_key("you idiot", "policy1")
    assert key == cache_key("you idiot ", "policy1")  # outer whitespace does not matter
    assert key != cache_key("you idiot", "policy2")
    assert key != cache_key("you idiots", "policy1")
    assert "idiot" not in key


@pytest.fixture
async def redis_cache() -> AsyncIterator[RedisVerdictCache]:
    if not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    cache = RedisVerdictCache(
        url="redis://127.0.0.1:6379/0", ttl_s=60, prefix=f"test:{uuid.uuid4().hex}:"
    )
    yield cache
    await cache.close()


@pytest.mark.redis
async def test_redis_round_trip_with_expiry(redis_cache: RedisVerdictCache) -> None:
    assert await redis_cache.get("k") is None
    await redis_cache.set("k", VERDICT)
    assert await redis_cache.get("k") == VERDICT
    ttl = await redis_cache._redis.ttl(redis_cache.prefix + "k")
    assert 0 < ttl <= 60
    assert (redis_cache.hits, redis_cache.misses) == (1, 1)
    await redis_cache._redis.delete(redis_cache.prefix + "k")


@pytest.mark.redis
@pytest.mark.parametrize("stored", [b"not json", b"[1, 2]", b'{"scores": 3}'])
async def test_a_corrupt_redis_entry_is_a_miss(
    redis_cache: RedisVerdictCache, stored: bytes
) -> None:
    await redis_cache._redis.set(redis_cache.prefix + "bad", stored, ex=60)
    assert await redis_cache.get("bad") is None
    assert redis_cache.errors == 1 and redis_cache.misses == 1


@pytest.mark.redis
async def test_redis_is_shared_between_workers(redis_cache: RedisVerdictCache) -> None:
    other = RedisVerdictCache(url="redis://127.0.0.1:6379/0", prefix=redis_cache.prefix)
    try:
        await redis_cache.set("shared", VERDICT)
        assert await other.get("shared") == VERDICT
    finally:
        await other._redis.delete(other.prefix + "shared")
        await other.close()


async def test_a_redis_outage_is_a_miss_not_an_error() -> None:
    cache = RedisVerdictCache(url="redis://127.0.0.1:9/0")
    try:
        await cache.set("k", VERDICT)
        assert await cache.get("k") is None
        assert cache.errors == 2 and cache.misses == 1
    finally:
        await cache.close()
