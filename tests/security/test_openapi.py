"""The OpenAPI document tells the truth: every protected operation lists 401, 403 and 429 with
the error schema and their headers, operations with a body list 400, 413 and 422, the bearer
scheme is declared, `/metrics` is Prometheus text, and a 405 carries `Allow`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chatguard.api import create_app
from tests.security.conftest import app_settings, asgi_client
from tests.security.test_matrix import MATRIX

ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return create_app(app_settings("sqlite+aiosqlite:///:memory:")).openapi()


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in schema["paths"].items() for m, op in ops.items()]


def test_protected_operations_document_401_403_429(schema: dict[str, Any]) -> None:
    for method, path, operation in operations(schema):
        scope, body = MATRIX[(method, path)]
        responses = operation["responses"]
        if scope is None:
            assert "403" not in responses, f"{method} {path} is open"
            continue
        for code in ("401", "403", "429"):
            assert code in responses, f"{method} {path} lacks {code}"
            content = responses[code]["content"]["application/json"]["schema"]
            assert content == ERROR_SCHEMA
        assert "WWW-Authenticate" in responses["401"]["headers"]
        assert responses["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
        assert operation["security"] == [{"HTTPBearer": []}]
        if body is not None:
            for code in ("400", "413", "422"):
                assert code in responses, f"{method} {path} lacks {code}"


def test_every_error_response_has_the_error_schema(schema: dict[str, Any]) -> None:
    for method, path, operation in operations(schema):
        for code, response in operation["responses"].items():
            if code.startswith("4"):
                content = response["content"]["application/json"]["schema"]
                assert content == ERROR_SCHEMA, f"{method} {path} {code}"
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_the_bearer_scheme_is_declared(schema: dict[str, Any]) -> None:
    scheme = schema["components"]["securitySchemes"]["HTTPBearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def test_metrics_are_documented_as_prometheus_text(schema: dict[str, Any]) -> None:
    ok = schema["paths"]["/metrics"]["get"]["responses"]["200"]
    assert list(ok["content"]) == ["text/plain; version=0.0.4; charset=utf-8"]


async def test_metrics_are_served_as_prometheus_text(sqlite_url: str) -> None:
    async for client in asgi_client(app_settings(sqlite_url)):
        response = await client.get("/metrics")
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")


async def test_metrics_may_require_a_key(sqlite_url: str) -> None:
    from tests.support.keys import bearer, make_key

    ingest = await make_key(sqlite_url, owner="prometheus", scopes=["ingest"])
    async for client in asgi_client(app_settings(sqlite_url, metrics_require_key=True)):
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=bearer(ingest))).status_code == 200
        assert (await client.get("/health")).status_code == 200


async def test_a_405_carries_allow(sqlite_url: str) -> None:
    async for client in asgi_client(app_settings(sqlite_url)):
        response: httpx.Response = await client.patch("/moderate", json={})
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert response.json()["error"]["type"] == "method_not_allowed"
