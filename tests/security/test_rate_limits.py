"""Rate limits over HTTP: 429 with an integer Retry-After and the error shape, per key (a key's
own rate first), per client address in open mode, per chat user; in process and in Redis; an
unreachable Redis falls back and is counted, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import REDIS_URL, free_port
from tests.security.conftest import app_settings, asgi_client
from tests.support.keys import bearer, make_key


def assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"].isdigit() and int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["type"] == "rate_limited"


async def test_a_key_over_its_rate_gets_429(sqlite_url: str, message: dict) -> None:
    ops = await make_key(sqlite_url, owner="ops", scopes=["admin"])
    settings = app_settings(sqlite_url, rate_limit_key_per_s=0.5, rate_limit_key_burst=2)
    async for client in asgi_client(settings, headers=bearer(ops)):
        assert [(await client.get("/review")).status_code for _ in range(2)] == [200, 200]
        limited = await client.post("/moderate", json=message)
        assert_limited(limited)
        assert limited.headers["retry-after"] == "2"
        other = await make_key(sqlite_url, owner="other", scopes=["moderator"])
        assert (await client.get("/review", headers=bearer(other))).status_code == 200


async def test_a_keys_own_rate_overrides_the_default(sqlite_url: str) -> None:
    slow = await make_key(sqlite_url, owner="slow", scopes=["moderator"], rate=1.0)
    async for client in asgi_client(app_settings(sqlite_url), headers=bearer(slow)):
        statuses = [(await client.get("/review")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]  # rate 1/s bursts to 2


async def test_open_mode_limits_each_client_address(sqlite_url: str, message: dict) -> None:
    settings = app_settings(sqlite_url, rate_limit_key_per_s=0.1, rate_limit_key_burst=1)
    async for client in asgi_client(settings):
        assert (await client.post("/moderate", json=message)).status_code == 200
        assert_limited(await client.post("/moderate", json=message))


async def test_each_chat_user_has_a_rate(sqlite_url: str, message: dict) -> None:
    settings = app_settings(sqlite_url, rate_limit_user_per_s=0.5, rate_limit_user_burst=3)
    async for client in asgi_client(settings):
        batch = {"messages": [message, message | {"user_id": "other"}, message]}
        assert (await client.post("/moderate/batch", json=batch)).status_code == 200
        assert (await client.post("/moderate", json=message)).status_code == 200
        assert_limited(await client.post("/moderate", json=message))
        # A refused batch costs nobody anything: "other" still has two messages left.
        assert_limited(await client.post("/moderate/batch", json=batch))
        other = message | {"user_id": "other"}
        assert (await client.post("/moderate/batch", json={"messages": [other] * 2})).is_success


async def test_the_default_lets_a_200_message_burst_reach_the_policy(
    sqlite_url: str, message: dict
) -> None:
    async for client in asgi_client(app_settings(sqlite_url)):
        texts = [message | {"message": f"spam number {i}"} for i in range(150)]
        assert (await client.post("/moderate/batch", json={"messages": texts})).status_code == 200
        for i in range(50):
            one = message | {"message": f"more spam {i}"}
            assert (await client.post("/moderate", json=one)).status_code == 200


@pytest.mark.redis
async def test_two_servers_share_the_limits_in_redis(
    sqlite_url: str, message: dict, redis_prefix: str, tmp_path: object
) -> None:
    common = {
        "redis_url": REDIS_URL,
        "rate_limit_prefix": redis_prefix,
        "rate_limit_user_per_s": 0.1,
        "rate_limit_user_burst": 2,
    }
    async for first in asgi_client(app_settings(sqlite_url, **common)):
        assert (await first.post("/moderate", json=message)).status_code == 200
        other_db = sqlite_url.replace("chatguard.db", "second.db")
        async for second in asgi_client(app_settings(other_db, **common)):
            assert (await second.post("/moderate", json=message)).status_code == 200
            assert_limited(await second.post("/moderate", json=message))
        assert_limited(await first.post("/moderate", json=message))


async def test_an_unreachable_redis_costs_the_shared_limits_not_the_answers(
    sqlite_url: str, message: dict
) -> None:
    settings = app_settings(sqlite_url, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async for client in asgi_client(settings):
        for _ in range(3):
            assert (await client.post("/moderate", json=message)).status_code == 200
        metrics = (await client.get("/metrics")).text
        line = next(
            x for x in metrics.splitlines() if x.startswith("chatguard_rate_limit_fallback")
        )
        assert float(line.split()[-1]) >= 3  # one caller and one user decision per request
