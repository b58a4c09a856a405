"""Decisions left to the decision role (DECISION_ENDPOINT): its channel policy decides and its
database keeps the strike; while it is away the built-in thresholds decide, and say so."""

from __future__ import annotations

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


async def test_decision_role_away_falls_back_and_is_degraded(
    role_settings: SettingsFactory,
) -> None:
    away = f"http://127.0.0.1:{free_port()}"
    app = create_app(role_settings(decision_endpoint=away))
    async with in_process(app) as client:
        insult = await client.post("/moderate", json=INSULT)
        hello = await client.post(
            "/moderate",
            json={"message": "Hello everyone!", "user_id": "user123", "channel_id": "general"},
        )
        health = await client.get("/health")
    assert insult.status_code == 200 and hello.status_code == 200
    assert insult.json()["action"] == "delete"
    assert insult.json()["reason"].startswith("decision role unavailable, built-in thresholds")
    assert hello.json()["action"] == "allow"
    body = health.json()
    assert health.status_code == 200 and body["status"] == "degraded"
    assert body["components"]["decision"]["ok"] is False


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
