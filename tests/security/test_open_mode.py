"""Open local mode: before the first key is made, local callers may use the server without
one (roles are not trusted); remote callers, and browsers on other sites or behind a rebound
DNS name, may not. The first key ends open mode."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chatguard.api import create_app
from tests.security.conftest import app_settings, asgi_client
from tests.support.keys import bearer


@pytest.fixture
async def local(sqlite_url: str) -> Any:
    async for client in asgi_client(app_settings(sqlite_url)):
        yield client


async def test_a_local_caller_needs_no_key(local: httpx.AsyncClient, message: dict) -> None:
    assert (await local.post("/moderate", json=message)).status_code == 200
    # The OpenAI SDKs always send a key; without keys there is nothing to check it against.
    response = await local.post("/v1/moderations", json={"input": "hi"}, headers=bearer("x"))
    assert response.status_code == 200
    assert (await local.get("/review")).status_code == 200


async def test_roles_are_not_trusted_in_open_mode(local: httpx.AsyncClient, message: dict) -> None:
    response = await local.post("/moderate", json=message | {"roles": ["moderator"]})
    assert response.status_code == 403 and "--assert-roles" in response.text


async def test_a_remote_caller_is_refused(sqlite_url: str, message: dict) -> None:
    async for remote in asgi_client(app_settings(sqlite_url), client=("203.0.113.7", 4000)):
        response = await remote.post("/moderate", json=message)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "local callers only" in response.json()["error"]["message"]
        assert (await remote.get("/health")).status_code == 200  # open to every caller


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({"origin": "https://evil.example"}, 401, id="foreign-origin"),
        pytest.param(
            {"host": "evil.example:8000", "sec-fetch-site": "same-origin"},
            401,
            id="rebound-dns-name",
        ),
        pytest.param(
            {"host": "evil.example:8000", "origin": "http://evil.example:8000"},
            401,
            id="rebound-dns-name-with-origin",
        ),
        pytest.param({"origin": "http://127.0.0.1:8000"}, 200, id="page-served-locally"),
        pytest.param({"origin": "http://localhost:3000"}, 200, id="local-dev-page"),
        pytest.param({"sec-fetch-site": "same-origin"}, 200, id="browser-on-loopback"),
    ],
)
async def test_browsers_count_as_local_only_on_loopback_names(
    local: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    assert (await local.get("/review", headers=headers)).status_code == status


async def test_the_first_key_ends_open_mode(local: httpx.AsyncClient, message: dict) -> None:
    made = await local.post("/keys", json={"owner": "ops", "scopes": ["admin"]})
    assert made.status_code == 201
    secret = made.json()["secret"]
    assert secret.startswith("cg_") and made.json()["key_id"] in secret
    assert (await local.post("/moderate", json=message)).status_code == 401
    assert (await local.post("/moderate", json=message, headers=bearer(secret))).status_code == 200
    # Revoking every key does not open the server again.
    key_id = made.json()["key_id"]
    assert (await local.delete(f"/keys/{key_id}", headers=bearer(secret))).status_code == 200
    assert (await local.get("/review")).status_code == 401
    assert (await local.get("/review", headers=bearer(secret))).status_code == 401


async def test_the_app_refuses_to_start_on_a_public_address_without_an_admin_key(
    sqlite_url: str,
) -> None:
    from chatguard.errors import ConfigurationError

    app = create_app(app_settings(sqlite_url, bind_host="0.0.0.0"))
    with pytest.raises(ConfigurationError, match="chatguard keys create --owner you --scope admin"):
        async with app.router.lifespan_context(app):
            pass


async def test_the_bootstrap_admin_key_lets_it_start_and_acts_as_admin(
    sqlite_url: str, message: dict
) -> None:
    bootstrap = "b" * 40
    settings = app_settings(sqlite_url, bind_host="0.0.0.0", admin_api_key=bootstrap)
    async for client in asgi_client(settings):
        assert (await client.get("/keys")).status_code == 401
        response = await client.put(
            "/policies/lobby", json={"policy": {"preset": "kids"}}, headers=bearer(bootstrap)
        )
        assert response.status_code == 200
        audit = (await client.get("/audit", headers=bearer(bootstrap))).json()["entries"]
        assert audit[0]["actor"] == "admin-api-key"
