"""Decisions left to the decision role (DECISION_ENDPOINT): its channel policy decides and its
database keeps the strike; while it is away the built-in thresholds decide, and say so."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from chatguard.api import create_app
from chatguard.domain import Action, Assessment, Message, Route
from chatguard.roles.remote_decider import decide_body, decision_from_answer
from chatguard.roles.transport import RoleUnavailableError
from chatguard.taxonomy import Category
from tests.conftest import free_port
from tests.roles.conftest import RoleServer, SettingsFactory, in_process

INSULT = {
    "message": "You are such an idiot, I hate you!",
    "user_id": "user456",
    "channel_id": "general",
}


async def test_the_decision_role_decides_and_keeps_the_strike(
    role_settings: SettingsFactory, serve_role: RoleServer
) -> None:
    decision = serve_role("decision", role_settings())
    app = create_app(role_settings(decision_endpoint=decision.url))
    async with in_process(app) as client:
        answer = (await client.post("/moderate", json=INSULT)).json()
        health = (await client.get("/health")).json()
    assert answer["action"] not in ("allow", "flag")
    assert "strike 1" in answer["reason"]
    assert health["components"]["decision"]["ok"] is True
    async with httpx.AsyncClient(base_url=decision.url) as client:
        record = (await client.get("/users/general/user456")).json()
    assert record["active_strikes"] == 1


async def test_decision_role_away_the_api_role_applies_the_policy_and_is_degraded(
    role_settings: SettingsFactory,
) -> None:
    away = f"http://127.0.0.1:{free_port()}"
    app = create_app(role_settings(decision_endpoint=away))
    async with in_process(app) as client:
        insult = await client.post("/moderate", json=INSULT)
        again = await client.post("/moderate", json=INSULT)
        hello = await client.post(
            "/moderate",
            json={"message": "Hello everyone!", "user_id": "user123", "channel_id": "general"},
        )
        health = await client.get("/health")
    assert insult.status_code == 200 and hello.status_code == 200
    assert insult.json()["action"] not in ("allow", "flag")
    reason = insult.json()["reason"]
    assert reason.startswith("decision role unavailable, channel policy applied by the api role")
    # The strike was stored here: the next offence meets it.
    assert "strike 1" in reason and "strike 2" in again.json()["reason"]
    assert hello.json()["action"] == "allow"
    body = health.json()
    assert health.status_code == 200 and body["status"] == "degraded"
    assert body["components"]["decision"]["ok"] is False
    assert "applied here meanwhile" in body["components"]["decision"]["detail"]


async def test_without_a_database_the_built_in_thresholds_decide(
    role_settings: SettingsFactory,
) -> None:
    from chatguard.roles.remote_decider import RemoteDecider

    away = f"http://127.0.0.1:{free_port()}"
    decider = RemoteDecider.from_settings(role_settings(decision_endpoint=away))
    message = Message(text="you idiot", user_id="u", channel_id="c", id="m1")
    assessment = Assessment(
        message_id="m1", scores={Category.HARASSMENT: 0.99}, route=Route.ACT, decided_by="x"
    )
    try:
        planned = await decider.plan_many([(message, assessment)])
    finally:
        await decider.close()
    assert planned[0].decision.action == Action.DELETE
    assert planned[0].decision.reason.startswith("decision role unavailable, built-in thresholds")
    assert planned[0].decision.policy == "fallback" and planned[0].effects.empty


def test_the_decide_body_is_what_the_decision_role_reads() -> None:
    from chatguard.api.decision_schemas import DecideRequest

    message = Message(text="hi", user_id="u", channel_id="c", id="m1")
    assessment = Assessment(
        message_id="m1",
        scores={Category.HARASSMENT: 0.7},
        route=Route.UNCERTAIN,
        decided_by="classifier",
        pending=("llm",),
    )
    request = DecideRequest.model_validate(decide_body(message, assessment))
    assert request.to_message().id == "m1"
    back = request.assessment.to_assessment("m1")
    assert back.scores == {Category.HARASSMENT: 0.7}
    assert back.pending == ("llm",)


def test_an_unusable_answer_is_refused() -> None:
    # RemoteDecider.decide turns this error into the built-in thresholds' decision.
    message = Message(text="hi", user_id="u", channel_id="c")
    assessment = Assessment(message_id=message.id, scores={}, route=Route.ALLOW, decided_by="x")
    with pytest.raises(RoleUnavailableError, match="without a usable decision"):
        decision_from_answer(message, assessment, {"action": "obliterate"})
    decision = decision_from_answer(message, assessment, {"action": "timeout", "duration_s": 60})
    assert decision.action is Action.TIMEOUT and decision.duration_s == 60


async def test_a_repeated_decide_keeps_one_strike(
    role_settings: SettingsFactory, serve_role: RoleServer
) -> None:
    # A retry after the api role lost its answer (a crash between the call and its store)
    # reaches the decision role again with the same message id: the strike exists once.
    decision = serve_role("decision", role_settings())
    message = Message(text=INSULT["message"], user_id="user9", channel_id="general", id="m-9")
    assessment = Assessment(
        message_id="m-9",
        scores={Category.HARASSMENT: 0.99},
        route=Route.ACT,
        decided_by="classifier",
    )
    async with httpx.AsyncClient(base_url=decision.url) as client:
        for _ in range(2):
            answer = await client.post("/decide", json=decide_body(message, assessment))
            assert answer.status_code == 200, answer.text
        record = (await client.get("/users/general/user9")).json()
    assert record["active_strikes"] == 1


async def test_a_final_decision_supersedes_the_provisional_hold(
    role_settings: SettingsFactory, serve_role: RoleServer
) -> None:
    # The api role held a message while the LLM was pending, then the LLM cleared it: the
    # decision role's review item for the hold must not stay pending.
    decision = serve_role("decision", role_settings())
    message = Message(text="go to hell", user_id="user7", channel_id="general", id="m-7")
    pending = Assessment(
        message_id="m-7",
        scores={Category.PROFANITY: 0.86},
        route=Route.UNCERTAIN,
        decided_by="classifier",
        pending=("llm",),
    )
    cleared = Assessment(
        message_id="m-7", scores={Category.PROFANITY: 0.1}, route=Route.ALLOW, decided_by="llm"
    )
    async with httpx.AsyncClient(base_url=decision.url) as client:
        first = (await client.post("/decide", json=decide_body(message, pending))).json()
        assert first["provisional"] is True and first["action"] == "hold"
        held = (await client.get("/review", params={"channel_id": "general"})).json()["items"]
        assert [i["message_id"] for i in held] == ["m-7"]
        body = decide_body(message, cleared, final=True)
        final = (await client.post("/decide", json=body)).json()
        assert final["action"] == "allow" and final["provisional"] is False
        still = (await client.get("/review", params={"channel_id": "general"})).json()["items"]
        assert still == []


async def test_a_batch_is_decided_in_one_call_with_each_effect_once(
    role_settings: SettingsFactory, serve_role: RoleServer
) -> None:
    decision = serve_role("decision", role_settings())
    app = create_app(role_settings(decision_endpoint=decision.url))
    batch = [
        {**INSULT, "user_id": "u1", "message_id": "b1"},
        {"message": "good game everyone", "user_id": "u2", "channel_id": "general",
         "message_id": "b2"},
        {**INSULT, "user_id": "u1", "message_id": "b3"},
    ]  # fmt: skip
    async with in_process(app) as client:
        first = (await client.post("/moderate/batch", json={"messages": batch})).json()
        again = (await client.post("/moderate/batch", json={"messages": batch})).json()
        calls = (await client.get("/metrics")).text
    actions = [r["action"] for r in first["results"]]
    assert actions[1] == "allow" and "allow" not in (actions[0], actions[2])
    # The second insult of the same user in the batch meets the first one's strike.
    assert "strike 1" in first["results"][0]["reason"]
    assert "strike 2" in first["results"][2]["reason"]
    assert again == first
    # One call for the batch (single messages go to POST /decide), none for the retry.
    decide_calls = [
        line for line in calls.splitlines()
        if line.startswith("chatguard_role_calls_total") and 'target="decision role"' in line
        and 'outcome="ok"' in line
    ]  # fmt: skip
    assert decide_calls and float(decide_calls[0].rsplit(" ", 1)[1]) == 1.0, decide_calls
    async with httpx.AsyncClient(base_url=decision.url) as peer:
        record = (await peer.get("/users/general/u1")).json()
        audit = (await peer.get("/audit", params={"channel_id": "general"})).json()["entries"]
    assert record["active_strikes"] == 2
    assert sorted(e["message_id"] for e in audit if e["action"].startswith("decision.")) == [
        "b1",
        "b3",
    ]


async def test_a_decision_batch_over_the_limit_is_refused(
    role_settings: SettingsFactory, serve_role: RoleServer
) -> None:
    decision = serve_role("decision", role_settings(max_batch_size=2))
    item = decide_body(
        Message(text="hi", user_id="u", channel_id="c", id="m1"),
        Assessment(message_id="m1", scores={}, route=Route.ALLOW, decided_by="classifier"),
    )
    async with httpx.AsyncClient(base_url=decision.url) as peer:
        refused = await peer.post("/decide/batch", json={"decisions": [item] * 3})
        empty = await peer.post("/decide/batch", json={"decisions": []})
        ok = await peer.post("/decide/batch", json={"decisions": [item]})
    assert refused.status_code == 413 and "limit is 2" in refused.text
    assert empty.status_code == 422
    assert ok.status_code == 200 and ok.json()["results"][0]["action"] == "allow"


async def test_past_its_deadline_the_decision_role_writes_nothing(
    role_settings: SettingsFactory, serve_role: RoleServer
) -> None:
    import time

    decision = serve_role("decision", role_settings())
    item = decide_body(
        Message(text="you idiot", user_id="late", channel_id="general", id="late-1"),
        Assessment(
            message_id="late-1",
            scores={Category.HARASSMENT: 0.99},
            route=Route.ACT,
            decided_by="classifier",
        ),
    )
    async with httpx.AsyncClient(base_url=decision.url) as peer:
        late = await peer.post(
            "/decide/batch", json={"decisions": [item], "deadline": time.time() - 1}
        )
        record = (await peer.get("/users/general/late")).json()
        in_time = await peer.post(
            "/decide/batch", json={"decisions": [item], "deadline": time.time() + 30}
        )
        after = (await peer.get("/users/general/late")).json()
    assert late.status_code == 408 and late.json()["error"]["type"] == "deadline_passed"
    assert record["active_strikes"] == 0
    assert in_time.status_code == 200 and after["active_strikes"] == 1


async def test_a_decision_the_decision_role_made_is_kept_when_its_answer_was_lost(
    tmp_path: object, serve_role: RoleServer
) -> None:
    from pathlib import Path

    from chatguard.config import load_settings

    # The decision role and the api role share one database, as in production.
    shared = load_settings(
        database_url=f"sqlite+aiosqlite:///{Path(str(tmp_path)) / 'shared.db'}", _env_file=None
    )
    decision = serve_role("decision", shared)
    body = {**INSULT, "user_id": "lost", "message_id": "lost-1"}
    item = decide_body(
        Message(text=body["message"], user_id="lost", channel_id="general", id="lost-1"),
        Assessment(
            message_id="lost-1",
            scores={Category.HARASSMENT: 0.99},
            route=Route.ACT,
            decided_by="classifier",
        ),
    )
    async with httpx.AsyncClient(base_url=decision.url) as peer:
        made = (await peer.post("/decide/batch", json={"decisions": [item]})).json()
    # Its answer never reached the api role, which now finds the decision role away.
    away = f"http://127.0.0.1:{free_port()}"
    app = create_app(shared.model_copy(update={"decision_endpoint": away}))
    async with in_process(app) as client:
        answer = (await client.post("/moderate", json=body)).json()
    async with httpx.AsyncClient(base_url=decision.url) as peer:
        record = (await peer.get("/users/general/lost")).json()
    assert answer["action"] == made["results"][0]["action"]
    assert answer["reason"] == made["results"][0]["reason"]  # the decision role's, unprefixed
    assert record["active_strikes"] == 1  # and no second strike from the api role


async def test_requests_deciding_at_once_share_calls(
    role_settings: SettingsFactory, serve_role: RoleServer
) -> None:
    # Forty requests deciding at the same time: those waiting while calls are out go
    # together in the next call, and each gets its own message's decision.
    from prometheus_client import CollectorRegistry

    from chatguard.roles.remote_decider import CALLS_IN_FLIGHT, RemoteDecider

    decision = serve_role("decision", role_settings())
    decider = RemoteDecider.from_settings(role_settings(decision_endpoint=decision.url))
    registry = CollectorRegistry()
    decider.register_metrics(registry)
    items = [
        (
            Message(text="you idiot", user_id=f"u{n}", channel_id="c", id=f"shared-{n}"),
            Assessment(
                message_id=f"shared-{n}",
                scores={Category.HARASSMENT: 0.99 if n % 2 else 0.0},
                route=Route.ACT if n % 2 else Route.ALLOW,
                decided_by="classifier",
            ),
        )
        for n in range(40)
    ]
    try:
        planned = await asyncio.gather(*(decider.plan_many([item]) for item in items))
    finally:
        await decider.close()
    assert [p[0].decision.message_id for p in planned] == [m.id for m, _ in items]
    actions = [p[0].decision.action for p in planned]
    assert actions[0::2] == [Action.ALLOW] * 20
    assert all(a not in (Action.ALLOW, Action.FLAG) for a in actions[1::2])
    calls = registry.get_sample_value(
        "chatguard_role_calls_total", {"target": "decision role", "outcome": "ok"}
    )
    assert calls is not None and 1 <= calls <= CALLS_IN_FLIGHT, calls
