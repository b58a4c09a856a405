"""Flood handling: a spam-only offence gets the policy's flood action (a short timeout) and one
strike per burst; abuse sent as a flood still climbs the ladder. Through the policy engine, and
through the HTTP service on a real SQLite store with the filter and classifier."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chatguard.api import create_app
from chatguard.config import load_settings
from chatguard.decisions import PolicyEngine
from chatguard.decisions.evaluate import evaluate
from chatguard.decisions.presets import load_presets
from chatguard.decisions.strikes import FLOOD_SOURCE
from chatguard.decisions.terms import TermMatcher
from chatguard.domain import Action, Message
from tests.decisions.conftest import Clock, make_assessment

FLOOD = {"spam": 0.95}


def offence(user: str = "fast", channel: str = "chat") -> Message:
    return Message(text="nice play, what a run", user_id=user, channel_id=channel)


@pytest.mark.parametrize(
    ("scores", "flood"),
    [
        pytest.param({"spam": 0.95}, True, id="spam-only"),
        pytest.param({"spam": 0.95, "harassment/threatening": 0.95}, False, id="threat-in-flood"),
        pytest.param({"spam": 0.95, "harassment/threatening": 0.7}, False, id="low-threat"),
        pytest.param({"spam": 0.95, "harassment": 0.2}, True, id="mild-other-signal"),
        pytest.param({"spam": 0.8}, False, id="spam-hold-not-removal"),
    ],
)
def test_a_flood_is_a_spam_only_removal(scores: dict[str, float], flood: bool) -> None:
    policy = load_presets().resolve()
    verdict = evaluate(policy, offence(), make_assessment(scores), TermMatcher((), ()))
    assert verdict.flood is flood
    if flood:
        assert verdict.rule.action is Action.TIMEOUT and verdict.rule.duration_s == 30
        assert "flood" in verdict.steps
    else:
        assert verdict.rule.action is not Action.TIMEOUT or verdict.category is not None


def test_a_blocked_term_in_a_flood_is_no_mere_flood() -> None:
    policy = load_presets().resolve({"blocked_terms": ["run"]})
    matcher = TermMatcher(policy.blocked_terms, ())
    verdict = evaluate(policy, offence(), make_assessment(FLOOD), matcher)
    assert not verdict.flood and verdict.rule.action is Action.DELETE


def test_the_flood_action_is_the_channels_to_choose() -> None:
    keep = load_presets().resolve({"flood": {"action": None}})
    verdict = evaluate(keep, offence(), make_assessment(FLOOD), TermMatcher((), ()))
    assert verdict.flood and verdict.rule.action is Action.DELETE
    slow = load_presets().resolve({"flood": {"action": "timeout 10"}})
    verdict = evaluate(slow, offence(), make_assessment(FLOOD), TermMatcher((), ()))
    assert (verdict.rule.action, verdict.rule.duration_s) == (Action.TIMEOUT, 10)


async def test_one_burst_gives_one_strike(engine: PolicyEngine, clock: Clock) -> None:
    assert engine.strikes is not None
    answers = []
    for _ in range(50):
        answers.append(await engine.decide(offence(), make_assessment(FLOOD)))
        clock.advance(1)
    assert {(d.action, d.duration_s) for d in answers} == {(Action.TIMEOUT, 30)}
    [strike] = await engine.strikes.history("chat", "fast")
    assert strike.source == FLOOD_SOURCE and strike.rung == "warn"
    assert "flood:same_burst" in answers[-1].trail
    # The burst goes on while the offences keep coming, past 300 s from its first: one strike.
    clock.advance(250)
    await engine.decide(offence(), make_assessment(FLOOD))
    assert len(await engine.strikes.history("chat", "fast")) == 1
    # After a pause longer than the burst window, a new burst is a new offence.
    clock.advance(301)
    later = await engine.decide(offence(), make_assessment(FLOOD))
    assert len(await engine.strikes.history("chat", "fast")) == 2
    assert "rung:2:delete" in later.trail and later.action is Action.TIMEOUT


async def test_a_burst_is_one_strike_across_workers(
    repository: Any, clock: Clock, engine: PolicyEngine
) -> None:
    """A second engine on the same store (another worker, or after a restart) sees the stored
    flood strike and gives none of its own within the burst window."""
    assert engine.strikes is not None
    await engine.decide(offence(), make_assessment(FLOOD))
    other = PolicyEngine(repository=repository, clock=clock)
    clock.advance(5)
    await other.decide(offence(), make_assessment(FLOOD))
    assert len(await engine.strikes.history("chat", "fast")) == 1


async def test_burst_window_zero_strikes_every_offence(engine: PolicyEngine) -> None:
    assert engine.strikes is not None
    await engine.policies.put("strict", {"flood": {"burst_s": 0}}, actor="owner")
    for _ in range(3):
        await engine.decide(offence(channel="strict"), make_assessment(FLOOD))
    assert len(await engine.strikes.history("strict", "fast")) == 3


async def test_abuse_in_a_flood_climbs_the_ladder(engine: PolicyEngine, clock: Clock) -> None:
    abuse = {"spam": 0.95, "harassment/threatening": 0.95}
    actions = []
    for _ in range(6):
        actions.append((await engine.decide(offence(), make_assessment(abuse))).action)
        clock.advance(1)
    assert actions == [Action.DELETE, Action.DELETE, Action.TIMEOUT, Action.TIMEOUT,
                       Action.BAN, Action.BAN]  # fmt: skip


# -- through the service ---------------------------------------------------------------------


@pytest.fixture
async def api(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(
        database_url=sqlite_url, pipeline_stages="filter,classifier", _env_file=None
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chatguard") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def send_all(
    api: httpx.AsyncClient, texts: list[str], *, channel: str
) -> list[dict[str, Any]]:
    """The texts from one user at once: one batch, received within the same second."""
    messages = [{"message": t, "user_id": "fast", "channel_id": channel} for t in texts]
    response = await api.post("/moderate/batch", json={"messages": messages})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


async def use_preset(api: httpx.AsyncClient, channel: str, preset: str) -> None:
    engine: PolicyEngine = api.app.state.service.decider  # type: ignore[attr-defined]
    await engine.policies.put(channel, {"preset": preset}, actor="owner")


async def strikes_of(api: httpx.AsyncClient, channel: str) -> int:
    response = await api.get(f"/users/{channel}/fast")
    assert response.status_code == 200, response.text
    return len(response.json()["strikes"])


@pytest.mark.parametrize("preset", ["default", "gaming"])
async def test_a_fast_ordinary_chatter_is_slowed_not_banned(
    api: httpx.AsyncClient, preset: str
) -> None:
    await use_preset(api, "lobby", preset)
    answers = await send_all(
        api, [f"nice play number {i}, what a run" for i in range(200)], channel="lobby"
    )
    actions = Counter(a["action"] for a in answers)
    assert actions["ban"] == 0
    assert await strikes_of(api, "lobby") <= 1
    brief = [a for a in answers if a["action"] == "allow" or (
        a["action"] == "timeout" and a["duration_s"] <= 60)]  # fmt: skip
    assert len(brief) >= 190, actions
    assert actions["timeout"] > 100  # the flood itself was noticed and slowed


@pytest.mark.parametrize("preset", ["default", "gaming"])
async def test_a_flood_of_abuse_still_ends_in_a_ban(api: httpx.AsyncClient, preset: str) -> None:
    await use_preset(api, "arena", preset)
    answers = await send_all(api, [f"kys loser number {i}" for i in range(200)], channel="arena")
    assert answers[-1]["action"] == "ban"
    assert answers[0]["action"] == "delete"
    assert await strikes_of(api, "arena") == 200


async def test_forged_client_timestamps_do_not_spread_a_flood(api: httpx.AsyncClient) -> None:
    """Each message claims to be a minute after the last (or a day old): the windows run on
    the time the server received them, so the flood is caught all the same."""
    now = time.time()
    spread = [
        {"message": f"what a great run number {i}", "timestamp": now - 86_400 + 60 * i}
        for i in range(100)
    ]
    answers = []
    for body in spread:
        response = await api.post(
            "/moderate", json={**body, "user_id": "forger", "channel_id": "clock"}
        )
        answers.append(response.json())
    caught = [a for a in answers if {"spam:rate", "spam:repeat"} & set(a["reasons"])]
    assert len(caught) >= 90
    assert sum(a["action"] == "allow" for a in answers) <= 10
