"""The Redis spam state against the real Redis at 127.0.0.1:6379: same answers as the
in-process state, shared between workers."""

from __future__ import annotations

import socket
import uuid

import pytest
from helpers_filter import item

from chatguard.filter.spam import SpamDetector
from chatguard.filter.state import InMemorySpamState, Observation, RedisSpamState
from chatguard.stages.spam import SpamStage
from chatguard.taxonomy import Category

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not _redis_answers(), reason="Redis is not running on 127.0.0.1:6379"),
]


@pytest.fixture
async def state():
    redis_state = RedisSpamState(url=REDIS_URL, prefix=f"test:{uuid.uuid4().hex}:")
    yield redis_state
    await redis_state.close()


OBSERVATIONS = [
    Observation("k", "a", 0.0, 10.0),
    Observation("k", "b", 1.0, 10.0),
    Observation("k", "a", 2.0, 10.0),
    Observation("k", "c", 12.5, 10.0),
    Observation("k", "d", 12.5, 10.0, record=False),
    Observation("other", "x", 12.5, 10.0, record=False),
]


async def test_redis_state_answers_like_the_in_process_one(state: RedisSpamState) -> None:
    assert await state.ping()
    expected = InMemorySpamState().observe_now(OBSERVATIONS)
    assert await state.observe(OBSERVATIONS) == expected


@pytest.fixture
async def client():
    import redis.asyncio as redis

    connection = redis.Redis.from_url(REDIS_URL)
    yield connection
    await connection.aclose()


async def test_unrecorded_observations_store_nothing(state: RedisSpamState, client) -> None:
    await state.observe([Observation("quiet", "m", 5.0, 10.0, record=False)])
    assert await client.exists(state.redis_key("quiet")) == 0


async def test_windows_expire_in_redis(state: RedisSpamState, client) -> None:
    await state.observe([Observation("short", "m", 5.0, 0.05)])
    ttl = await client.pttl(state.redis_key("short"))
    assert 0 < ttl <= 50


async def test_keys_do_not_hold_message_words(state: RedisSpamState, client) -> None:
    await SpamDetector(state=state).detect_many([item("my secret words here", user="u")])
    keys = [k.decode() async for k in client.scan_iter(match=state.prefix + "*")]
    assert keys and not any("secret" in k or ":u" in k for k in keys)


async def test_raid_seen_across_two_workers(state: RedisSpamState) -> None:
    """Two filter workers sharing one Redis see one raid between them."""
    other = RedisSpamState(url=REDIS_URL, prefix=state.prefix)
    try:
        workers = [SpamDetector(state=state), SpamDetector(state=other)]
        text = "THIS STREAM IS DEAD go follow the better channel now"
        last = None
        for i in range(20):
            [last] = await workers[i % 2].detect_many(
                [item(text, user=f"raider{i}", at=50 + i * 0.2)]
            )
        assert last is not None and last.scores[Category.SPAM] >= 0.85
    finally:
        await other.close()


async def test_stage_with_redis_state_awaits_it(state: RedisSpamState) -> None:
    stage = SpamStage(detector=SpamDetector(state=state))
    assert not stage.synchronous
    from chatguard.domain import Message
    from chatguard.normalize import normalize
    from chatguard.pipeline.stage import StageInput

    messages = [Message(f"flood {i} {chr(97 + i)}", "f", "c", received_at=70 + i * 0.1)
                for i in range(20)]  # fmt: skip
    results = await stage.assess([StageInput(m, normalize(m.text)) for m in messages])
    assert results[-1].scores[Category.SPAM] >= 0.85
