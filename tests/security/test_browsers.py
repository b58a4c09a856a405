"""Browsers: CORS is off unless CORS_ORIGINS lists origins; the WebSocket takes its key as a
subprotocol and refuses an Origin not in the list."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from chatguard.api import create_app
from tests.conftest import LiveServer, free_port
from tests.security.conftest import app_settings, asgi_client
from tests.support.keys import bearer, make_key

CONSOLE = "https://console.example.org"
PREFLIGHT = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization,content-type",
}


async def test_cors_is_off_by_default(sqlite_url: str) -> None:
    async for client in asgi_client(app_settings(sqlite_url)):
        response = await client.options("/moderate", headers={"origin": CONSOLE, **PREFLIGHT})
        assert "access-control-allow-origin" not in response.headers
        got = await client.get("/health", headers={"origin": CONSOLE})
        assert "access-control-allow-origin" not in got.headers


async def test_cors_allows_the_listed_origins_only(sqlite_url: str) -> None:
    async for client in asgi_client(app_settings(sqlite_url, cors_origins=CONSOLE + "/")):
        ok = await client.options("/moderate", headers={"origin": CONSOLE, **PREFLIGHT})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == CONSOLE
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        foreign = await client.options(
            "/moderate", headers={"origin": "https://evil.example", **PREFLIGHT}
        )
        assert "access-control-allow-origin" not in foreign.headers


@pytest.fixture
def keyed_server(sqlite_url: str) -> Iterator[tuple[LiveServer, str, str]]:
    moderator = asyncio.run(make_key(sqlite_url, owner="anna", scopes=["moderator"]))
    ingest = asyncio.run(make_key(sqlite_url, owner="bot", scopes=["ingest"]))
    asyncio.run(make_key(sqlite_url, owner="ops", scopes=["admin"]))  # may serve on 0.0.0.0
    app = create_app(app_settings(sqlite_url, cors_origins=CONSOLE, bind_host="0.0.0.0"))
    with LiveServer(app, free_port(), host="0.0.0.0") as live:
        yield live, moderator, ingest


def test_a_browser_sends_the_key_as_a_subprotocol(
    keyed_server: tuple[LiveServer, str, str],
) -> None:
    live, moderator, ingest = keyed_server
    url = f"ws://127.0.0.1:{live.port}/ws/decisions?channel_id=lobby"
    protocols = ["chatguard.v1", f"bearer.{moderator}"]
    with connect(url, origin=CONSOLE, subprotocols=protocols, open_timeout=5) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "chatguard.v1"  # never the one holding the key
        body = {"message": "fuck this", "user_id": "u", "channel_id": "lobby"}
        httpx.post(f"{live.url}/moderate", json=body, headers=bearer(ingest))
        event = json.loads(ws.recv(timeout=5))
        assert event["channel_id"] == "lobby" and "fuck" not in json.dumps(event)


@pytest.mark.parametrize(
    ("origin", "credentials", "status"),
    [
        pytest.param(None, "none", 401, id="no-key"),
        pytest.param(None, "bad", 401, id="unknown-key"),
        pytest.param("https://evil.example", "moderator", 403, id="foreign-origin"),
        pytest.param(CONSOLE, "ingest", 403, id="wrong-scope"),
    ],
)
def test_the_websocket_refuses_before_the_handshake(
    keyed_server: tuple[LiveServer, str, str], origin: str | None, credentials: str, status: int
) -> None:
    live, moderator, ingest = keyed_server
    key = {"moderator": moderator, "ingest": ingest, "bad": "cg_" + "0" * 12 + "_" + "x" * 43}
    protocols = [f"bearer.{key[credentials]}"] if credentials in key else None
    with pytest.raises(InvalidStatus) as refused:
        connect(
            f"ws://127.0.0.1:{live.port}/ws/decisions",
            origin=origin,  # type: ignore[arg-type]
            subprotocols=protocols,  # type: ignore[arg-type]
            open_timeout=5,
        )
    response = refused.value.response
    assert response.status_code == status
    assert json.loads(response.body)["error"]["type"] in ("unauthorized", "forbidden")
