"""Bad input gets a clear 4xx, never a 500, and the server keeps serving."""

from __future__ import annotations

import httpx
import pytest

VALID = {"message": "hello", "user_id": "u", "channel_id": "c"}


@pytest.mark.parametrize(
    ("path", "content", "status", "kind"),
    [
        ("/moderate", b'{"message": "hi", ', 400, "malformed_json"),
        ("/moderate", b"not json at all", 400, "malformed_json"),
        ("/moderate", b'{"user_id": "u", "channel_id": "c"}', 422, "invalid_request"),
        (
            "/moderate",
            b'{"message": 42, "user_id": "u", "channel_id": "c"}',
            422,
            "invalid_request",
        ),
        (
            "/moderate",
            b'{"message": "hi", "user_id": "", "channel_id": "c"}',
            422,
            "invalid_request",
        ),
        (
            "/moderate",
            b'{"message": "hi", "user_id": "u", "channel_id": "c", "roles": ["king"]}',
            422,
            "invalid_request",
        ),
        ("/moderate", b"[1, 2, 3]", 422, "invalid_request"),
        ("/moderate/batch", b'{"messages": []}', 422, "invalid_request"),
        ("/v1/moderations", b'{"input": 5}', 422, "invalid_request"),
        ("/v1/moderations", b'{"input": []}', 422, "invalid_input"),
        ("/v1/moderations", b'{"input": [{"type": "image_url"}]}', 422, "invalid_request"),
    ],
    ids=[
        "truncated-json",
        "not-json",
        "missing-message",
        "message-not-a-string",
        "empty-user",
        "unknown-role",
        "array-body",
        "empty-batch",
        "input-wrong-type",
        "input-empty-list",
        "input-unsupported-part",
    ],
)
async def test_malformed_requests_get_a_clear_4xx(
    client: httpx.AsyncClient, path: str, content: bytes, status: int, kind: str
) -> None:
    response = await client.post(
        path, content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == kind
    assert error["message"]
    assert (await client.post("/moderate", json=VALID)).status_code == 200


async def test_missing_field_is_named(client: httpx.AsyncClient) -> None:
    response = await client.post("/moderate", json={"user_id": "u", "channel_id": "c"})
    assert "body.message" in response.json()["error"]["message"]


async def test_one_megabyte_message_is_refused_without_echo(client: httpx.AsyncClient) -> None:
    huge = "a" * 1_048_576
    response = await client.post("/moderate", json={**VALID, "message": huge})
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "input_too_large"
    assert len(response.content) < 1000
    assert (await client.post("/moderate", json=VALID)).status_code == 200


async def test_message_over_the_character_limit_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/moderate", json={**VALID, "message": "b" * 5000})
    assert response.status_code == 413
    assert "limit is 4000" in response.json()["error"]["message"]


async def test_ten_thousand_inputs_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/moderations", json={"input": ["hi"] * 10_000})
    assert response.status_code == 413
    assert "limit is 1000" in response.json()["error"]["message"]
    response = await client.post("/moderate/batch", json={"messages": [VALID] * 10_000})
    assert response.status_code == 413
    assert (await client.post("/moderate", json=VALID)).status_code == 200


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("\u202e\u2066" * 500, 200),
        ("\U0001f600" * 1000, 200),
        ("a\u0301" * 1500, 200),
        ("\ud800", 422),
        ("\x01\x02\x1b[31m\x7f\x85", 200),
        ("tab\tand\nnewline\r\n", 200),
        ("Z̷̧̛͓̈́a̵̢͉̓l̸̰͗g̵̛̳o̶̧͑" * 20, 200),
    ],
    ids=[
        "bidi-flood",
        "emoji-flood",
        "combining-flood",
        "lone-surrogate",
        "control-chars",
        "tab-newline",
        "zalgo",
    ],
)
async def test_hostile_unicode_is_moderated_not_crashed(
    client: httpx.AsyncClient, text: str, status: int
) -> None:
    import json

    body = json.dumps({**VALID, "message": text}).encode()
    response = await client.post(
        "/moderate", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    if status == 200:
        assert response.json()["action"] in {"allow", "flag", "hold", "delete", "timeout", "ban"}
    else:
        assert "surrogate" in response.json()["error"]["message"]


async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
