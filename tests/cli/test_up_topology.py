"""The whole topology through `chatguard up`, as a user runs it: every role a process against
the real PostgreSQL and Redis (an LLM stand-in behind the llm-worker), the original guide's
checks (`/health` on each role, its two `POST /moderate` examples, ten concurrent sends),
then Ctrl-C stops every process. A role that dies takes the others down with a message."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatguard.roles import ROLES
from tests.conftest import PG_ADMIN_URL, REDIS_URL, port_answers
from tests.support.fake_llm import FakeLLMServer
from tests.support.up import READY, Up, chatguard_up, gone

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

GUIDE_ALLOW = {
    "message": "Hello everyone! How are you doing today?",
    "user_id": "user123",
    "channel_id": "general",
}
GUIDE_ACT = {
    "message": "You are such an idiot, I hate you!",
    "user_id": "user456",
    "channel_id": "general",
}


def _pg(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database on the shared PostgreSQL, dropped afterwards."""
    if not port_answers(5432):
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    name = f"cg_up_{uuid.uuid4().hex[:10]}"
    _pg(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the shared Redis, its keys deleted afterwards."""
    if not port_answers(6379):
        pytest.skip("Redis does not answer on 127.0.0.1:6379")
    import redis

    prefix = f"cg-up-{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()


def _environment(database: str, redis_prefix: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database,
        "REDIS_URL": REDIS_URL,
        "RATE_LIMIT_PREFIX": redis_prefix,
        "EVENT_STREAM_PREFIX": redis_prefix,
        # The verdict cache would live in Redis under a fixed prefix: off here.
        "LLM_CACHE_SIZE": "0",
        "LOG_LEVEL": "INFO",
        **extra,
    }


async def _guide_checks(up: Up) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        for role in up.ports:
            health = await client.get(f"{up.url(role)}/health")
            assert health.status_code == 200, (role, health.text)
            assert health.json()["status"] == "ok", (role, health.json())
        api = up.url("api")
        components = (await client.get(f"{api}/health")).json()["components"]
        for remote in ("filter", "llm", "decision"):
            assert components[remote]["ok"] and "remote" in components[remote]["detail"]

        allow = await client.post(f"{api}/moderate", json=GUIDE_ALLOW)
        assert allow.status_code == 200, allow.text
        assert allow.json()["action"] == "allow"
        act = await client.post(f"{api}/moderate", json=GUIDE_ACT)
        assert act.status_code == 200, act.text
        assert act.json()["action"] not in ("allow", "flag"), act.json()
        # The decision role decided (its policy, its strike), not the built-in fallback.
        assert "strike 1" in act.json()["reason"]

        sends = [
            client.post(
                f"{api}/moderate",
                json={"message": f"message number {i}", "user_id": f"user{i}", "channel_id": "c"},
            )
            for i in range(10)
        ]
        answers = await asyncio.gather(*sends)
        assert [a.status_code for a in answers] == [200] * 10
        assert len({a.json()["message_id"] for a in answers}) == 10
        assert all(a.json()["action"] for a in answers)


def test_up_runs_the_guide_and_stops_on_ctrl_c(
    tmp_path: Path, database: str, redis_prefix: str, fake_llm: FakeLLMServer
) -> None:
    env = _environment(database, redis_prefix, LLM_ENDPOINT=fake_llm.url, LLM_CONTROL="false")
    with chatguard_up(list(ROLES), env, tmp_path) as up:
        up.wait_for(READY, timeout_s=240)
        for role in ROLES:
            assert f"{role:<10} {up.url(role)}" in up.output()
        asyncio.run(_guide_checks(up))
        pids = up.pids()
        assert set(pids) == set(ROLES)
        up.process.send_signal(signal.SIGINT)
        assert up.process.wait(timeout=60) == 0
        time.sleep(0.5)  # the reader's last lines
        assert "chatguard up: interrupted; stopping every role" in up.output()
        assert all(gone(pid) for pid in pids.values()), up.output()
        assert not any(port_answers(port) for port in up.ports.values())


def test_a_role_that_dies_stops_the_rest_without_restarts(
    tmp_path: Path, database: str, redis_prefix: str
) -> None:
    with chatguard_up(
        ["filter", "simulator"],
        _environment(database, redis_prefix),
        tmp_path,
        extra_args=["--restarts", "0"],
    ) as up:
        up.wait_for(READY, timeout_s=180)
        pids = up.pids()
        os.kill(pids["simulator"], signal.SIGKILL)
        assert up.process.wait(timeout=60) == 1
        time.sleep(0.5)
        assert (
            f"the simulator role (pid {pids['simulator']}) exited with code -9; "
            "stopping the others" in up.output()
        )
        assert gone(pids["filter"])
