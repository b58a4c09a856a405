"""The decision handler's HTTP API, on SQLite and PostgreSQL: the review queue round trip ends
as a label in the store; policies CRUD with versions; /moderate follows channel policy; user
records; the audit log; /decide. The acting moderator or admin is the API key's owner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chatguard.api import create_app
from chatguard.config import load_settings
from chatguard.decisions import PolicyEngine
from chatguard.decisions.records import ReviewStatus
from tests.support.keys import bearer, make_key


async def keyed_client(database_url: str, stages: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client sending the admin key of "owner"; `client.keys` holds a moderator key of
    "mod_anna" and an ingest key of "connector" that may assert roles."""
    keys = {
        "owner": await make_key(database_url, owner="owner", scopes=["admin"]),
        "mod_anna": await make_key(database_url, owner="mod_anna", scopes=["moderator"]),
        "connector": await make_key(
            database_url, owner="connector", scopes=["ingest"], assert_roles=True
        ),
    }
    settings = load_settings(database_url=database_url, pipeline_stages=stages, _env_file=None)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://chatguard", headers=bearer(keys["owner"])
        ) as client:
            client.app = app  # type: ignore[attr-defined]
            client.keys = keys  # type: ignore[attr-defined]
            yield client


def as_(api: httpx.AsyncClient, owner: str) -> dict[str, str]:
    return bearer(api.keys[owner])  # type: ignore[attr-defined]


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # The rule stage alone: its scores are fixed, so the policy is what these tests vary.
    async for client in keyed_client(database_url, "rules"):
        yield client


def engine_of(api: httpx.AsyncClient) -> PolicyEngine:
    engine: PolicyEngine = api.app.state.service.decider  # type: ignore[attr-defined]
    return engine


async def moderate(api: httpx.AsyncClient, text: str, **fields: Any) -> dict[str, Any]:
    body = {"message": text, "user_id": "viewer", "channel_id": "lobby", **fields}
    response = await api.post("/moderate", json=body, headers=as_(api, "connector"))
    assert response.status_code == 200, response.text
    return response.json()


async def held_item(api: httpx.AsyncClient, channel: str = "lobby") -> dict[str, Any]:
    response = await api.get("/review", params={"channel_id": channel})
    [item] = response.json()["items"]
    return item


@pytest.mark.parametrize(
    ("verb", "body", "status", "label", "strikes"),
    [
        pytest.param("approve", {}, "approved", "acceptable", 0, id="approve"),
        pytest.param("deny", {}, "denied", "violation", 1, id="deny"),
        pytest.param(
            "deny",
            {"action": "timeout", "duration_s": 300},
            "denied",
            "violation",
            1,
            id="deny-with-timeout",
        ),
    ],
)
async def test_review_round_trip_leaves_a_label(
    api: httpx.AsyncClient, verb: str, body: dict[str, Any], status: str, label: str, strikes: int
) -> None:
    decision = await moderate(api, "well fuck that")
    assert decision["action"] == "hold" and decision["approved"] is False
    item = await held_item(api)
    assert item["message_id"] == decision["message_id"] and item["text"] == "well fuck that"

    response = await api.post(
        f"/review/{item['id']}/{verb}",
        json={"reason": "checked", **body},
        headers=as_(api, "mod_anna"),
    )
    assert response.status_code == 200, response.text
    resolved = response.json()
    assert (resolved["status"], resolved["resolved_by"]) == (status, "mod_anna")
    assert (await api.get("/review", params={"channel_id": "lobby"})).json()["items"] == []

    # The outcome is a label in the store, for evaluation and retraining.
    [stored] = await engine_of(api).repository.labels(channel_id="lobby")  # type: ignore[union-attr]
    assert (stored.label, stored.source, stored.actor) == (label, "moderator", "mod_anna")
    assert stored.text == "well fuck that" and stored.categories == ["profanity"]
    labels = (await api.get("/review/labels", params={"channel_id": "lobby"})).json()["labels"]
    assert [x["label"] for x in labels] == [label]

    record = (await api.get("/users/lobby/viewer")).json()
    assert record["active_strikes"] == strikes
    audit = (await api.get("/audit", params={"actor": "mod_anna"})).json()["entries"]
    assert [(e["action"], e["actor_kind"], e["reason"]) for e in audit] == [
        (f"review.{status}", "human", "checked")
    ]


async def test_a_review_is_resolved_once(api: httpx.AsyncClient) -> None:
    await moderate(api, "shit happens")
    item = await held_item(api)
    first = await api.post(f"/review/{item['id']}/approve", json={}, headers=as_(api, "mod_anna"))
    again = await api.post(f"/review/{item['id']}/deny", json={})
    assert first.status_code == 200
    message = again.json()["error"]["message"]
    assert again.status_code == 409 and "already approved (by mod_anna)" in message
    missing = await api.post("/review/nope/approve", json={})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"actor": "m"}, "actor", id="actor-is-not-a-field"),
        pytest.param({"action": "timeout"}, "duration_s", id="timeout-no-duration"),
        pytest.param({"action": "flag"}, "action", id="deny-with-flag"),
    ],
)
async def test_a_bad_review_request_is_a_clear_4xx(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    await moderate(api, "shit happens")
    item = await held_item(api)
    response = await api.post(f"/review/{item['id']}/deny", json=body)
    assert response.status_code == 422 and field in response.json()["error"]["message"]
    assert (await held_item(api))["status"] == "pending"  # nothing was lost


async def test_unreviewed_holds_get_the_default_action_after_the_timeout(
    api: httpx.AsyncClient,
) -> None:
    await moderate(api, "shit happens")
    item = await held_item(api)
    engine = engine_of(api)
    assert engine.reviews is not None
    engine.reviews.clock = lambda: item["expires_at"] + 1
    [expired] = await engine.reviews.expire_due()
    assert (expired.status, expired.outcome, expired.resolved_by) == (
        ReviewStatus.EXPIRED,
        "delete",
        "system",
    )
    [label] = (await api.get("/review/labels")).json()["labels"]
    assert (label["label"], label["source"]) == ("violation", "timeout")
    assert (await api.get("/users/lobby/viewer")).json()["active_strikes"] == 0


async def test_policies_crud_with_versions(api: httpx.AsyncClient) -> None:
    fresh = (await api.get("/policies/arena")).json()
    assert fresh["version"] == 0 and fresh["policy"]["name"] == "default"
    put = await api.put(
        "/policies/arena",
        json={"policy": {"preset": "gaming", "blocked_terms": ["noob"]}},
    )
    assert put.status_code == 200 and put.json()["version"] == 1
    assert put.json()["policy"]["blocked_terms"] == ["noob"]
    bad = await api.put(
        "/policies/arena",
        json={"policy": {"preset": "gaming", "categories": {"hate": {"level": 9}}}},
    )
    assert bad.status_code == 422
    assert "categories.hate.level" in bad.json()["error"]["message"]
    reset = await api.delete("/policies/arena", params={"reason": "season over"})
    assert reset.json()["version"] == 2 and reset.json()["policy"]["name"] == "default"
    versions = (await api.get("/policies/arena/versions")).json()["versions"]
    assert [(v["version"], v["actor"]) for v in versions] == [(1, "owner"), (2, "owner")]
    # The actor is the key's owner, in the audit log too.
    audit = (await api.get("/audit", params={"channel_id": "arena"})).json()["entries"]
    assert audit and {(e["actor"], e["actor_kind"]) for e in audit} == {("owner", "human")}
    assert (await api.get("/policies/arena/versions/1")).json()["document"]["preset"] == "gaming"
    assert (await api.get("/policies/arena/versions/7")).status_code == 404
    presets = (await api.get("/policies/presets")).json()
    assert {"default", "gaming", "kids"} <= set(presets["presets"])
    check = await api.post("/policies/validate", json={"policy": {"fail_mode": "sometimes"}})
    assert check.status_code == 422 and "fail_mode" in check.json()["error"]["message"]


@pytest.mark.parametrize(
    ("preset", "action"),
    [
        pytest.param("gaming", "allow", id="gaming"),
        pytest.param("default", "hold", id="default"),
        pytest.param("kids", "delete", id="kids"),
    ],
)
async def test_moderate_follows_channel_policy(
    api: httpx.AsyncClient, preset: str, action: str
) -> None:
    channel = f"chan-{preset}"
    await api.put(f"/policies/{channel}", json={"policy": {"preset": preset}})
    decision = await moderate(api, "fuck yeah", channel_id=channel)
    assert decision["action"] == action and decision["policy"] == preset


async def test_moderators_are_exempt_through_the_api(api: httpx.AsyncClient) -> None:
    decision = await moderate(api, "kys", roles=["moderator"])
    assert decision["action"] == "allow" and "exempt role: moderator" in decision["reason"]


@pytest.mark.parametrize("path", ["/moderate", "/moderate/batch", "/decide"])
async def test_roles_are_refused_from_a_key_that_may_not_assert_them(
    api: httpx.AsyncClient, path: str
) -> None:
    message = {"message": "kys", "user_id": "v", "channel_id": "lobby", "roles": ["moderator"]}
    body: dict[str, Any] = {
        "/moderate": message,
        "/moderate/batch": {"messages": [message]},
        "/decide": message | {"assessment": {"scores": {"hate": 0.9}, "route": "act"}},
    }[path]
    response = await api.post(path, json=body)  # the admin key, made without --assert-roles
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["type"] == "forbidden" and "--assert-roles" in error["message"]
    assert (await api.get("/users/lobby/v")).json()["strikes"] == []  # nothing was decided


async def test_third_offence_escalates_through_the_api(api: httpx.AsyncClient) -> None:
    actions = [(await moderate(api, "kys"))["action"] for _ in range(3)]
    assert actions == ["delete", "delete", "timeout"]
    record = (await api.get("/users/lobby/viewer")).json()
    assert record["active_strikes"] == 3
    assert record["next_rung"] == {
        "name": "timeout 24h",
        "action": "timeout",
        "duration_s": 86400,
        "position": 4,
    }
    assert [s["rung"] for s in record["strikes"]] == ["warn", "delete", "timeout 10m"]


@pytest.mark.parametrize(
    ("assessment", "action"),
    [
        pytest.param({"scores": {"hate": 0.95}, "route": "act"}, "delete", id="act"),
        pytest.param({"scores": {"harassment": 0.1}, "route": "allow"}, "allow", id="clean"),
        pytest.param(
            {"scores": {"harassment": 0.5}, "route": "uncertain", "pending": ["llm"]},
            "hold",
            id="llm-pending-fail-mode-hold",
        ),
        pytest.param(
            {"scores": {"harassment_threatening": 0.9}, "route": "act"},
            "delete",
            id="sdk-style-name",
        ),
        pytest.param(
            {"scores": {"self_harm_intent": 0.9}, "route": "act"},
            "hold",
            id="crisis-held-not-removed",
        ),
    ],
)
async def test_decide_takes_an_assessment_made_elsewhere(
    api: httpx.AsyncClient, assessment: dict[str, Any], action: str
) -> None:
    body = {"message": "...", "user_id": "u", "channel_id": "lobby", "assessment": assessment}
    response = await api.post("/decide", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["action"] == action


async def test_decide_refuses_an_unknown_category(api: httpx.AsyncClient) -> None:
    body = {
        "message": "x",
        "user_id": "u",
        "channel_id": "c",
        "assessment": {"scores": {"rudeness": 0.9}, "route": "act"},
    }
    response = await api.post("/decide", json=body)
    assert response.status_code == 422 and "rudeness" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("raw_message", "status"),
    [
        pytest.param('"\\ud800 held"', 422, id="lone-surrogate"),
        pytest.param('"' + "a" * 5000 + '"', 413, id="too-long"),
    ],
)
async def test_decide_applies_the_input_checks_of_moderate(
    api: httpx.AsyncClient, raw_message: str, status: int
) -> None:
    body = (
        f'{{"message": {raw_message}, "user_id": "u", "channel_id": "lobby", '
        '"assessment": {"scores": {"hate": 0.5}, "route": "uncertain"}}'
    )
    response = await api.post("/decide", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert (await api.get("/review")).json()["items"] == []


async def test_metrics_count_policy_actions_reviews_and_strikes(api: httpx.AsyncClient) -> None:
    await moderate(api, "well fuck that")
    await moderate(api, "kys")
    item = await held_item(api)
    await api.post(f"/review/{item['id']}/deny", json={})
    text = (await api.get("/metrics")).text
    for line in (
        'chatguard_policy_actions_total{action="hold",policy="default"} 1.0',
        'chatguard_policy_actions_total{action="delete",policy="default"} 1.0',
        'chatguard_review_items_total{outcome="held"} 1.0',
        'chatguard_review_items_total{outcome="denied"} 1.0',
        'chatguard_strikes_total{source="auto"} 1.0',
        'chatguard_strikes_total{source="review"} 1.0',
    ):
        assert line in text


@pytest.fixture
async def filter_api(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The service with the lightweight filter stage, whose rule engine takes channel terms."""
    async for client in keyed_client(sqlite_url, "filter"):
        yield client


async def test_policy_terms_reach_the_filters_rule_engine(
    filter_api: httpx.AsyncClient,
) -> None:
    api = filter_api
    body = {"message": "the ending: snape dies", "user_id": "u1", "channel_id": "movies"}
    before = (await api.post("/moderate", json=body)).json()
    assert before["action"] == "allow" and before["spans"] == []
    put = await api.put(
        "/policies/movies",
        json={"policy": {"blocked_terms": ["snape dies"]}},
    )
    assert put.status_code == 200
    after = (await api.post("/moderate", json={**body, "user_id": "u2"})).json()
    assert after["action"] == "delete"
    # The filter's rule engine found it (its span), not only the policy engine's own matcher.
    assert [(s["start"], s["end"]) for s in after["spans"]] == [(12, 22)]
    # A term the rule engine refuses refuses the policy, naming the field; nothing is stored.
    bad = await api.put("/policies/movies", json={"policy": {"blocked_terms": ["!!!"]}})
    assert bad.status_code == 422 and "blocked_terms" in bad.json()["error"]["message"]
    assert (await api.get("/policies/movies")).json()["version"] == 1
