"""Who may call what: every HTTP operation of the app and the WebSocket, against no key, an
ingest, a moderator and an admin key and a revoked key, on a real server listening on 0.0.0.0
(an address other than loopback, so nothing runs open). 401 and 403 come exactly where they
belong, never a 5xx, and every status seen is one the OpenAPI document lists.

A route added without a row in `MATRIX` fails `test_every_route_has_a_row`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.routing import BaseRoute, WebSocketRoute
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from chatguard.api import create_app
from tests.conftest import LiveServer, free_port
from tests.security.conftest import app_settings
from tests.support.keys import bearer, make_key

OPEN, INGEST, MODERATOR, ADMIN = None, "ingest", "moderator", "admin"
MESSAGE = {"message": "hello chat", "user_id": "viewer", "channel_id": "lobby"}
ASSESSMENT = {"scores": {"hate": 0.1}, "route": "allow"}

#: (method, path) -> (the scope it needs (None: open), the JSON body to send)
MATRIX: dict[tuple[str, str], tuple[str | None, Any]] = {
    ("GET", "/health"): (OPEN, None),
    ("GET", "/metrics"): (OPEN, None),
    ("GET", "/openapi.json"): (OPEN, None),
    ("GET", "/docs"): (OPEN, None),
    ("GET", "/docs/oauth2-redirect"): (OPEN, None),
    ("GET", "/redoc"): (OPEN, None),
    ("POST", "/moderate"): (INGEST, MESSAGE),
    ("POST", "/moderate/batch"): (INGEST, {"messages": [MESSAGE]}),
    ("POST", "/v1/moderations"): (INGEST, {"input": "hello"}),
    ("POST", "/decide"): (ADMIN, MESSAGE | {"assessment": ASSESSMENT}),
    ("POST", "/decide/batch"): (ADMIN, {"decisions": [MESSAGE | {"assessment": ASSESSMENT}]}),
    ("GET", "/policies/presets"): (MODERATOR, None),
    ("POST", "/policies/validate"): (MODERATOR, {"policy": {"preset": "gaming"}}),
    ("GET", "/policies/{channel_id}"): (MODERATOR, None),
    ("PUT", "/policies/{channel_id}"): (ADMIN, {"policy": {"preset": "gaming"}}),
    ("DELETE", "/policies/{channel_id}"): (ADMIN, None),
    ("GET", "/policies/{channel_id}/versions"): (MODERATOR, None),
    ("GET", "/policies/{channel_id}/versions/{number}"): (MODERATOR, None),
    ("GET", "/review"): (MODERATOR, None),
    ("GET", "/review/labels"): (MODERATOR, None),
    ("GET", "/review/{item_id}"): (MODERATOR, None),
    ("POST", "/review/{item_id}/approve"): (MODERATOR, {}),
    ("POST", "/review/{item_id}/deny"): (MODERATOR, {}),
    ("GET", "/users/{channel_id}/{user_id}"): (MODERATOR, None),
    ("DELETE", "/users/{channel_id}/{user_id}"): (ADMIN, None),
    ("GET", "/audit"): (MODERATOR, None),
    ("GET", "/webhooks/dead-letters"): (MODERATOR, None),
    ("POST", "/webhooks/dead-letters/{delivery_id}/retry"): (ADMIN, None),
    ("GET", "/keys"): (ADMIN, None),
    ("POST", "/keys"): (ADMIN, {"owner": "someone", "scopes": ["ingest"]}),
    ("DELETE", "/keys/{key_id}"): (ADMIN, None),
    ("WS", "/ws/decisions"): (MODERATOR, None),
}
PARAMS = {
    "channel_id": "lobby",
    "user_id": "viewer",
    "number": "1",
    "item_id": "no-such-item",
    "delivery_id": "no-such-delivery",
    "key_id": "000000000000",  # not a key: revoking it must not revoke one of the callers
}
CALLERS = ("none", "ingest", "moderator", "admin", "revoked")


def allowed(caller: str, scope: str | None) -> bool:
    if scope is None:
        return True
    return caller == "admin" or caller == scope


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict]]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('matrix') / 'chatguard.db'}"

    async def keys() -> dict[str, str]:
        made = {s: await make_key(url, owner=f"{s}-owner", scopes=[s]) for s in CALLERS[1:4]}
        made["revoked"] = await make_key(url, owner="gone", scopes=["admin"], revoked=True)
        return made

    secrets = asyncio.run(keys())
    settings = app_settings(
        url,
        bind_host="0.0.0.0",
        # Webhooks configured (to a port nobody listens on), so retrying is a 404, not a 503.
        webhook_urls="http://127.0.0.1:9/hook",
        webhook_secret="s" * 32,
    )
    app = create_app(settings)
    with LiveServer(app, free_port(), host="0.0.0.0") as live:
        yield live, {"schema": app.openapi(), "keys": secrets}


def headers_of(caller: str, keys: dict[str, str]) -> dict[str, str]:
    return {} if caller == "none" else bearer(keys[caller])


def every_route(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """(method, path) of every route, included routers' too ("WS" for a WebSocket)."""
    try:  # FastAPI keeps included routers as such and flattens them on demand
        from fastapi.routing import iter_route_contexts

        contexts: list[Any] = list(iter_route_contexts(routes))
    except ImportError:
        contexts = list(routes)
    found = set()
    for context in contexts:
        original = getattr(context, "original_route", context)
        if isinstance(original, WebSocketRoute) or type(original).__name__ == "APIWebSocketRoute":
            found.add(("WS", context.path))
        else:
            found |= {(m, context.path) for m in context.methods or () if m != "HEAD"}
    return found


def test_every_route_has_a_row() -> None:
    app = create_app(app_settings("sqlite+aiosqlite:///:memory:"))
    found = every_route(app.routes)
    assert found == set(MATRIX), "give each new route a row in MATRIX"
    schema = app.openapi()
    documented = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert documented <= set(MATRIX)


@pytest.mark.parametrize(
    ("method", "path"),
    [k for k in MATRIX if k[0] != "WS"],
    ids=[f"{m} {p}" for m, p in MATRIX if m != "WS"],
)
def test_http_operation(server: tuple[LiveServer, dict], method: str, path: str) -> None:
    live, state = server
    scope, body = MATRIX[(method, path)]
    operation = state["schema"]["paths"].get(path, {}).get(method.lower())
    with httpx.Client(base_url=live.url, timeout=10) as http:
        for caller in CALLERS:
            response = http.request(
                method,
                path.format(**PARAMS),
                json=body,
                headers=headers_of(caller, state["keys"]),
            )
            status = response.status_code
            seen = f"{method} {path} as {caller}: {status} {response.text[:200]}"
            assert status < 500, seen
            if caller in ("none", "revoked") and scope is not None:
                assert status == 401, seen
                assert response.headers["www-authenticate"] == "Bearer"
                assert response.json()["error"]["type"] == "unauthorized"
            elif not allowed(caller, scope):
                assert status == 403, seen
                error = response.json()["error"]
                assert error["type"] == "forbidden" and scope in error["message"]
            else:
                assert status not in (401, 403), seen
            if operation is not None:
                assert str(status) in operation["responses"], f"undocumented: {seen}"


@pytest.mark.parametrize("caller", CALLERS)
def test_websocket(server: tuple[LiveServer, dict], caller: str) -> None:
    live, state = server
    url = f"ws://127.0.0.1:{live.port}/ws/decisions"
    headers = headers_of(caller, state["keys"])
    if allowed(caller, MODERATOR):
        with connect(url, additional_headers=headers, open_timeout=5) as ws:
            assert ws.protocol.state.name == "OPEN"
        return
    with pytest.raises(InvalidStatus) as refused:
        connect(url, additional_headers=headers, open_timeout=5)
    expected = 403 if caller == "ingest" else 401
    assert refused.value.response.status_code == expected


def test_the_matrix_runs_on_an_address_other_than_loopback(
    server: tuple[LiveServer, dict],
) -> None:
    live, _ = server
    assert live.host == "0.0.0.0"
    assert httpx.get(f"{live.url}/review").status_code == 401  # keys exist: none runs open
