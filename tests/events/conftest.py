"""Buses for the tests: in process, and on the shared Redis under a prefix of their own whose
keys are deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis import asyncio as aioredis

from chatguard.events import DecisionMade
from chatguard.events.redis_streams import RedisStreamsEventBus
from tests.conftest import REDIS_URL

RedisBusFactory = Callable[..., RedisStreamsEventBus]


def decision(n: int = 0, **fields: Any) -> DecisionMade:
    return DecisionMade(message_id=f"m{n}", channel_id="c", user_id="u", action="delete", **fields)


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        await client.ping()
    except OSError:
        pytest.skip("Redis does not answer")
    yield client
    await client.aclose()


@pytest.fixture
async def stream_prefix(redis_client: aioredis.Redis) -> AsyncIterator[str]:
    prefix = f"chatguard:test:{uuid.uuid4().hex}:"
    yield prefix
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis_client.delete(*keys)


@pytest.fixture
async def redis_bus(
    redis_client: aioredis.Redis, stream_prefix: str
) -> AsyncIterator[RedisBusFactory]:
    """Buses on one prefix: several of them act as several processes."""
    made: list[RedisStreamsEventBus] = []

    def make(**options: Any) -> RedisStreamsEventBus:
        bus = RedisStreamsEventBus.from_url(REDIS_URL, prefix=stream_prefix, **options)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.close()


async def fail(_: object) -> None:
    raise RuntimeError("handler failed")


def collector() -> tuple[list[Any], Callable[[Any], Awaitable[None]]]:
    seen: list[Any] = []

    async def handle(event: Any) -> None:
        seen.append(event)

    return seen, handle
