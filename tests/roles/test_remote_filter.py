"""The filter served by the filter role: the api role's remote stage gives the verdicts the
in-process filter gives, a filter role that is away is a degraded component (moderation goes
on), and the calls carry the service key."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from chatguard.api import create_app
from chatguard.domain import Message, StageResult
from chatguard.normalize import normalize
from chatguard.pipeline.stage import StageInput
from chatguard.roles.remote import FILTER_PATH, RemoteFilterStage, remote_stage
from chatguard.roles.transport import HttpRoleTransport
from chatguard.service import ModerationService
from chatguard.stages.filter import FilterStage
from tests.conftest import LiveServer, free_port
from tests.roles.conftest import RoleServer, SettingsFactory, in_process

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SERVICE_KEY = "cg-role-test-service-" + "k" * 32


def fixture_lines() -> list[str]:
    """A few lines of each shipped sample, plus PII and a flood the spam windows see."""
    lines: list[str] = []
    for name in ("abusive_chat.jsonl", "ordinary_chat.jsonl", "prompt_injection_sample.jsonl"):
        with (FIXTURES / name).open(encoding="utf-8") as handle:
            lines += [json.loads(line)["text"] for line in list(handle)[:6]]
    lines += ["mail me at jane.doe@example.com or call +1 415 555 0132"]
    lines += ["FREE FOLLOWERS at spam.example.com"] * 4
    return lines


def inputs(lines: list[str]) -> list[StageInput]:
    messages = [
        Message(text=t, user_id=f"u{i % 3}", channel_id="c1", id=f"m{i}", received_at=1000.0 + i)
        for i, t in enumerate(lines)
    ]
    return [StageInput(m, normalize(m.text)) for m in messages]


def verdict(result: StageResult) -> tuple[object, ...]:
    scores = {c.value: round(s, 6) for c, s in result.scores.items()}
    return (result.stage, scores, result.spans, result.reasons, result.error)


async def test_remote_filter_gives_the_in_process_verdicts(
    role_settings: SettingsFactory, serve_role: RoleServer
) -> None:
    server = serve_role("filter", role_settings(pipeline_stages="filter"))
    local = FilterStage.from_settings(role_settings())
    remote = remote_stage("filter", role_settings(filter_endpoint=server.url))
    assert isinstance(remote, RemoteFilterStage)
    items = inputs(fixture_lines())
    await remote.start()
    try:
        # One batch, then one message at a time: both paths of the detectors.
        expected = local.assess_sync(items[:10]) + [local.assess_sync([i])[0] for i in items[10:]]
        got = await remote.assess(items[:10])
        for item in items[10:]:
            got += await remote.assess([item])
    finally:
        await remote.close()
    assert [verdict(r) for r in got] == [verdict(r) for r in expected]
    assert any(r.scores for r in got), "the fixture lines hit nothing: the test proves nothing"


async def test_moderation_through_the_filter_role_matches_the_embedded_server(
    role_settings: SettingsFactory, serve_role: RoleServer
) -> None:
    server = serve_role("filter", role_settings(pipeline_stages="filter"))
    lines = fixture_lines()
    actions = {}
    for name, settings in {
        "embedded": role_settings(),
        "split": role_settings(filter_endpoint=server.url),
    }.items():
        service = ModerationService.from_settings(settings)
        await service.start()
        try:
            outcomes = await service.moderate_batch(
                [
                    Message(text=t, user_id=f"{name}-u{i % 3}", channel_id=name)
                    for i, t in enumerate(lines)
                ]
            )
        finally:
            await service.close()
        actions[name] = [(o.response["action"], o.response["categories"]) for o in outcomes]
    assert actions["split"] == actions["embedded"]
    assert {a for a, _ in actions["split"]} > {"allow"}


async def test_filter_role_away_is_degraded_not_an_error(role_settings: SettingsFactory) -> None:
    away = f"http://127.0.0.1:{free_port()}"
    app = create_app(role_settings(filter_endpoint=away))
    async with in_process(app) as client:
        health = await client.get("/health")
        hello = await client.post(
            "/moderate",
            json={"message": "Hello everyone!", "user_id": "user123", "channel_id": "general"},
        )
        insult = await client.post(
            "/moderate",
            json={
                "message": "You are such an idiot, I hate you!",
                "user_id": "user456",
                "channel_id": "general",
            },
        )
        metrics = (await client.get("/metrics")).text
    # The warm-up at start and the two messages.
    assert 'chatguard_role_calls_total{outcome="failed",target="filter role"} 3.0' in metrics
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "degraded"
    component = body["components"]["filter"]
    assert component["ok"] is False
    assert "filter role" in component["detail"] and "unreachable" in component["detail"]
    # Moderation goes on: the classifier judges, the trail records the filter's failure.
    assert hello.status_code == 200 and insult.status_code == 200
    assert hello.json()["action"] == "allow"
    assert insult.json()["action"] != "allow"
    trail = insult.json()["trail"][0]
    assert trail["stage"] == "filter" and "unreachable" in trail["error"]


@pytest.mark.parametrize(
    ("key", "works"), [(None, False), (SERVICE_KEY, True)], ids=["no-key", "service-key"]
)
async def test_calls_carry_the_service_key(
    role_settings: SettingsFactory, serve_role: RoleServer, key: str | None, works: bool
) -> None:
    # With a key configured, the filter role answers no caller without one, local or not.
    server: LiveServer = serve_role(
        "filter", role_settings(pipeline_stages="filter", admin_api_key=SERVICE_KEY)
    )
    transport = HttpRoleTransport(target="filter role", base_url=server.url, api_key=key)
    stage = RemoteFilterStage(
        stage_name="filter", transport=transport, path=FILTER_PATH, timeout_s=5.0
    )
    try:
        if works:
            [result] = await stage.assess(inputs(["you worthless idiot"]))
            assert result.scores
        else:
            [result] = await stage.assess(inputs(["you worthless idiot"]))
            assert result.error is not None and "refused the service key (401)" in result.error
            assert not result.scores
            assert stage.health().ok is False
    finally:
        await stage.close()


async def test_channel_terms_reach_the_filter_role(
    role_settings: SettingsFactory, serve_role: RoleServer
) -> None:
    # The decision role and the filter role share one database, as in the distributed shape.
    shared = role_settings()
    decision = serve_role("decision", shared)
    async with httpx.AsyncClient(base_url=decision.url) as client:
        put = await client.put(
            "/policies/arena", json={"policy": {"blocked_terms": ["snorkelwort"]}}
        )
        assert put.status_code == 200, put.text
    server = serve_role("filter", shared.model_copy(update={"pipeline_stages": "filter"}))
    stage = remote_stage("filter", role_settings(filter_endpoint=server.url))
    assert stage is not None
    message = {"arena": None, "lobby": None}
    for channel in message:
        m = Message(text="what a snorkelwort", user_id="u1", channel_id=channel)
        [message[channel]] = [
            r.scores for r in await stage.assess([StageInput(m, normalize(m.text))])
        ]
    await stage.close()
    assert message["arena"], "the channel's blocked term did not reach the filter role"
    assert not message["lobby"]
