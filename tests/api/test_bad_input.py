"""Bad input gets a clear 4xx, never a 500, and the server keeps serving."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer

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
        ("/v1/moderations", b'{"input": []}', 422, "invalid_request"),
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


# --- Input no database can take: the same clear 4xx on SQLite and PostgreSQL -------------------

NUL = "\x00"
MESSAGE = {"message": "hello", "user_id": "u", "channel_id": "c"}
ASSESSMENT = {"scores": {"hate": 0.1}, "route": "allow"}
POLICY = {"policy": {"preset": "default"}}
REVIEW = {"reason": "looked at it"}


def raw(text: str) -> bytes:
    """A body as written (Python's JSON parser takes `NaN` and `Infinity` literals)."""
    return text.encode()


def case(
    method: str, url: str, body: object = None, status: int = 422, *, id: str
) -> pytest.ParameterSet:
    return pytest.param(method, url, body, status, id=id)


UNSTORABLE = [
    # POST /moderate
    case("POST", "/moderate", {**MESSAGE, "message": f"a{NUL}b"}, id="moderate-nul-text"),
    case("POST", "/moderate", {**MESSAGE, "user_id": f"u{NUL}"}, id="moderate-nul-user"),
    case("POST", "/moderate", {**MESSAGE, "channel_id": "c\r\nFAKE"}, id="moderate-crlf-channel"),
    case("POST", "/moderate", {**MESSAGE, "message_id": f"{NUL}"}, id="moderate-nul-id"),
    case("POST", "/moderate", {**MESSAGE, "user_id": "u\x85"}, id="moderate-c1-user"),
    case("POST", "/moderate", {**MESSAGE, "timestamp": True}, id="moderate-bool-timestamp"),
    case(
        "POST",
        "/moderate",
        raw('{"message": "hi", "user_id": "u", "channel_id": "c", "timestamp": Infinity}'),
        id="moderate-infinite-timestamp",
    ),
    case(
        "POST",
        "/moderate",
        raw('{"message": "hi", "user_id": "u", "channel_id": "c", "timestamp": NaN}'),
        id="moderate-nan-timestamp",
    ),
    case(
        "POST",
        "/moderate",
        raw('{"message": "hi", "user_id": "u", "channel_id": "c", "timestamp": 1e400}'),
        id="moderate-overflowing-timestamp",
    ),
    case("POST", "/moderate", {**MESSAGE, "message": "tab\tline\nend\r\n"}, 200, id="moderate-tab"),
    # POST /moderate/batch
    case(
        "POST",
        "/moderate/batch",
        {"messages": [MESSAGE, {**MESSAGE, "user_id": NUL}]},
        id="batch-nul-user",
    ),
    # POST /v1/moderations
    case("POST", "/v1/moderations", {"input": f"a{NUL}"}, id="openai-nul-input"),
    case("POST", "/v1/moderations", {"input": ["ok", NUL]}, id="openai-nul-in-list"),
    case(
        "POST", "/v1/moderations", {"input": [{"type": "text", "text": NUL}]}, id="openai-nul-part"
    ),
    case("POST", "/v1/moderations", {"input": "ok", "model": f"m{NUL}"}, id="openai-nul-model"),
    # POST /decide
    case(
        "POST",
        "/decide",
        {**MESSAGE, "message": NUL, "assessment": ASSESSMENT},
        id="decide-nul-text",
    ),
    case(
        "POST",
        "/decide",
        {**MESSAGE, "assessment": {**ASSESSMENT, "scores": {"hate": True}}},
        id="decide-bool-score",
    ),
    case(
        "POST",
        "/decide",
        raw(
            '{"message": "hi", "user_id": "u", "channel_id": "c",'
            ' "assessment": {"route": "act", "scores": {"hate": Infinity}}}'
        ),
        id="decide-infinite-score",
    ),
    case(
        "POST",
        "/decide",
        {**MESSAGE, "assessment": {**ASSESSMENT, "scores": {f"hate{NUL}": 0.5}}},
        id="decide-nul-category",
    ),
    case(
        "POST",
        "/decide",
        {**MESSAGE, "assessment": {**ASSESSMENT, "decided_by": f"x{NUL}"}},
        id="decide-nul-stage",
    ),
    case(
        "POST",
        "/decide",
        {**MESSAGE, "assessment": {**ASSESSMENT, "pending": [NUL]}},
        id="decide-nul-pending",
    ),
    case(
        "POST",
        "/decide",
        {
            **MESSAGE,
            "assessment": {
                **ASSESSMENT,
                "spans": [{"start": 0, "end": 2, "category": "hate", "label": NUL}],
            },
        },
        id="decide-nul-span-label",
    ),
    case(
        "POST",
        "/decide",
        {
            **MESSAGE,
            "assessment": {
                **ASSESSMENT,
                "spans": [{"start": 2**31, "end": 2**31, "category": "hate"}],
            },
        },
        id="decide-span-past-int32",
    ),
    case(
        "POST",
        "/decide",
        {
            **MESSAGE,
            "assessment": {**ASSESSMENT, "spans": [{"start": True, "end": 2, "category": "hate"}]},
        },
        id="decide-bool-span-start",
    ),
    case("POST", "/decide", {**MESSAGE, "assessment": ASSESSMENT}, 200, id="decide-valid"),
    # Policies
    case(
        "POST",
        "/policies/validate",
        {"policy": {"preset": f"gaming{NUL}"}},
        id="validate-nul-value",
    ),
    case("POST", "/policies/validate", {"policy": {f"pre{NUL}set": "x"}}, id="validate-nul-key"),
    case(
        "POST",
        "/policies/validate",
        raw('{"policy": {"llm_deadline_ms": NaN}}'),
        id="validate-nan",
    ),
    case("PUT", "/policies/a%00b", POLICY, id="put-nul-path"),
    case("PUT", "/policies/lobby", {**POLICY, "actor": f"m{NUL}"}, id="put-nul-actor"),
    case("PUT", "/policies/lobby", {**POLICY, "reason": "ok\r\nFAKE"}, id="put-crlf-reason"),
    case(
        "PUT",
        "/policies/lobby",
        {**POLICY, "policy": {"preset": "default", "blocked_terms": [f"x{NUL}"]}},
        id="put-nul-in-document",
    ),
    case("PUT", "/policies/lobby", POLICY, 200, id="put-valid"),
    case("GET", "/policies/a%00", id="get-policy-nul-path"),
    case("GET", "/policies/a%0D%0Ab/versions", id="versions-crlf-path"),
    case("GET", "/policies/lobby/versions/2147483648", id="version-past-int32"),
    case("GET", "/policies/lobby/versions/9223372036854775808", id="version-past-int64"),
    case("GET", "/policies/lobby/versions/true", id="version-bool"),
    case("GET", "/policies/lobby/versions/2147483647", status=404, id="version-max-int32"),
    case("DELETE", "/policies/lobby?actor=%00", id="reset-nul-actor"),
    case("DELETE", "/policies/lobby?actor=mod&reason=a%0Ab", id="reset-newline-reason"),
    # Review queue
    case("GET", "/review?channel_id=%00", id="review-nul-channel"),
    case("GET", "/review/labels?channel_id=c%1B", id="labels-escape-channel"),
    case("GET", "/review/ab%00", id="review-item-nul-path"),
    case("POST", "/review/ab%00/approve", REVIEW, id="approve-nul-path"),
    case("POST", "/review/abc/approve", {"actor": NUL}, id="approve-nul-actor"),
    case("POST", "/review/abc/approve", {**REVIEW, "reason": f"r{NUL}"}, id="approve-nul-reason"),
    case("POST", "/review/abc/approve", REVIEW, 404, id="approve-missing-item"),
    case(
        "POST",
        "/review/abc/deny",
        {**REVIEW, "action": "timeout", "duration_s": True},
        id="deny-bool-duration",
    ),
    case(
        "POST",
        "/review/abc/deny",
        {**REVIEW, "action": "timeout", "duration_s": 2**31},
        id="deny-duration-past-int32",
    ),
    # Users, audit, webhooks
    case("GET", "/users/c/u%00", id="user-nul-path"),
    case("GET", "/users/c%0D%0AFAKE/u", id="user-crlf-channel"),
    case("GET", "/audit?before_id=2147483648", id="audit-before-past-int32"),
    case("GET", "/audit?before_id=9223372036854775808", id="audit-before-past-int64"),
    case("GET", "/audit?before_id=true", id="audit-before-bool"),
    case("GET", "/audit?before_id=2147483647", status=200, id="audit-before-max-int32"),
    case("GET", "/audit?actor=%00", id="audit-nul-actor"),
    case("GET", "/audit?user_id=u%0D%0AFAKE", id="audit-crlf-user"),
    case("GET", "/audit?limit=4294967296", id="audit-limit-past-int32"),
    case("GET", "/webhooks/dead-letters?limit=true", id="dead-letters-bool-limit"),
    case("POST", "/webhooks/dead-letters/ab%00/retry", id="retry-nul-path"),
    case("POST", "/webhooks/dead-letters/abc/retry", status=404, id="retry-missing"),
    # Any route: the path and query check comes before routing
    case("GET", "/health?probe=%00", id="health-nul-query"),
    case("GET", "/metrics?a%00b=1", id="metrics-nul-query-name"),
]


@pytest.mark.parametrize(("method", "url", "body", "status"), UNSTORABLE)
def test_unstorable_input_gets_the_same_4xx_on_both_databases(
    api_server: LiveServer,
    api_headers: dict[str, str],
    method: str,
    url: str,
    body: object,
    status: int,
) -> None:
    kwargs: dict[str, Any] = {}
    headers = dict(api_headers)
    if isinstance(body, bytes):
        kwargs = {"content": body}
        headers["content-type"] = "application/json"
    elif body is not None:
        kwargs = {"json": body}
    response = httpx.request(method, api_server.url + url, timeout=30, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    if status >= 400:
        error = response.json()["error"]
        assert error["type"] in {"invalid_request", "invalid_input", "not_found"}
        assert error["message"]
        assert NUL not in response.text and "\r\nFAKE" not in response.text


def test_a_websocket_with_a_nul_in_its_query_is_refused(
    api_server: LiveServer, api_headers: dict[str, str]
) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    ws_url = api_server.url.replace("http://", "ws://")
    with pytest.raises(InvalidStatus) as refused:
        connect(
            f"{ws_url}/ws/decisions?channel_id=%00",
            open_timeout=10,
            additional_headers=api_headers,
        )
    assert refused.value.response.status_code in (403, 422)
    with connect(
        f"{ws_url}/ws/decisions?channel_id=lobby", open_timeout=10, additional_headers=api_headers
    ):
        pass


def test_a_chunked_body_over_the_limit_gets_413(
    api_server: LiveServer, api_headers: dict[str, str]
) -> None:
    """No Content-Length to go by: the limit applies as the chunks arrive."""

    def chunks() -> Iterator[bytes]:
        yield b'{"message": "'
        for _ in range(200):
            yield b"a" * 8192  # 1.6 MB in all, over MAX_BODY_BYTES (1 MiB)
        yield b'", "user_id": "u", "channel_id": "c"}'

    response = httpx.post(
        f"{api_server.url}/moderate",
        content=chunks(),
        headers={**api_headers, "content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "input_too_large"
    after = httpx.post(f"{api_server.url}/moderate", json=MESSAGE, headers=api_headers)
    assert after.status_code == 200


async def test_an_unknown_query_parameter_is_named_not_ignored(client: httpx.AsyncClient) -> None:
    # A misspelt filter must not silently widen the answer to every channel.
    response = await client.get("/review", params={"chanel_id": "c"})
    assert response.status_code == 422
    assert "query.chanel_id" in response.json()["error"]["message"]
    assert (await client.get("/review", params={"channel_id": "c"})).status_code == 200
    # The operation's own parameters, those of its dependencies included, still pass.
    assert (await client.get("/audit", params={"limit": 5})).status_code == 200
