"""`/ws/decisions` streams decisions and review events to the moderators' UI, never the text."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from chatguard.api import create_app
from chatguard.api.decision_app import create_decision_app
from chatguard.config import Settings
from chatguard.decisions.review import TOPIC
from chatguard.service import DECISIONS_TOPIC
from tests.support.keys import bearer, make_key


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The rule stage alone: fixed scores, so the events follow from the policy.
    return settings.model_copy(update={"pipeline_stages": "rules"})


def test_the_websocket_streams_decisions_and_review_events(settings: Settings) -> None:
    key = asyncio.run(make_key(settings.database_url, owner="mod", scopes=["admin"]))
    with (
        TestClient(create_app(settings), headers=bearer(key)) as client,
        client.websocket_connect("/ws/decisions?channel_id=lobby", headers=bearer(key)) as ws,
    ):
        body = {"message": "damn it", "user_id": "u", "channel_id": "other"}
        client.post("/moderate", json=body)  # another channel: filtered out
        body = {"message": "fuck this", "user_id": "u", "channel_id": "lobby"}
        decision = client.post("/moderate", json=body).json()
        held = ws.receive_json()
        event = ws.receive_json()
        assert held["type"] == "review.held" and held["message_id"] == decision["message_id"]
        assert (event["type"], event["action"], event["channel_id"]) == (
            "decision",
            "hold",
            "lobby",
        )
        item = client.get("/review").json()["items"][-1]
        client.post(f"/review/{item['id']}/deny", json={})
        resolved = ws.receive_json()
        assert (resolved["type"], resolved["action"], resolved["resolved_by"]) == (
            "review.resolved",
            "delete",
            "mod",
        )
        assert "fuck" not in str([held, event, resolved])


def test_review_events_share_the_decisions_topic() -> None:
    assert TOPIC == DECISIONS_TOPIC


def test_the_decision_role_app_serves_decisions_but_not_moderation(settings: Settings) -> None:
    key = asyncio.run(make_key(settings.database_url, owner="mod", scopes=["moderator"]))
    with TestClient(create_decision_app(settings), headers=bearer(key)) as client:
        assert client.get("/policies/presets").status_code == 200
        assert client.get("/health").status_code == 200
        assert client.post("/moderate", json={}).status_code in (404, 405)
