"""Care for people in crisis, through the real fast tier (filter and classifier, no LLM), on
SQLite and PostgreSQL: a self-harm disclosure is held for a human first in the queue and never
struck, under the default and the gaming presets; telling someone else to kill themselves, or
how-to content, stays an offence that is removed with a strike."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chatguard.config import load_settings
from chatguard.decisions import PolicyEngine
from chatguard.decisions.crisis import crisis_disclosure
from chatguard.decisions.policy import CrisisConfig, Severity
from chatguard.decisions.presets import load_presets
from chatguard.domain import Message
from chatguard.errors import InvalidPolicyError
from chatguard.service import ModerationService
from chatguard.taxonomy import Category
from tests.conftest import free_port
from tests.decisions.test_api import as_, keyed_client

CRISIS = "i want to kill myself tonight, i can't do this anymore"
ENCOURAGEMENT = "@sam kill yourself, nobody wants you here"
HELPLINE = "You matter. Call or text 988 (US) or see findahelpline.com, any time."


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in keyed_client(database_url, "filter,classifier"):
        yield client


def engine_of(api: httpx.AsyncClient) -> PolicyEngine:
    engine: PolicyEngine = api.app.state.service.decider  # type: ignore[attr-defined]
    return engine


async def moderate(api: httpx.AsyncClient, text: str, channel: str, user: str) -> dict[str, Any]:
    body = {"message": text, "user_id": user, "channel_id": channel}
    response = await api.post("/moderate", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def strikes(api: httpx.AsyncClient, channel: str, user: str) -> int:
    """The user's strikes in the store, checked against those the LLM is shown as context."""
    repository = engine_of(api).repository
    assert repository is not None
    stored = len(await repository.strikes(channel, user))
    context = api.app.state.service.channels.strikes(channel, user)  # type: ignore[attr-defined]
    assert context == stored
    return stored


@pytest.mark.parametrize("preset", ["default", "gaming"])
async def test_a_disclosure_is_held_with_priority_and_never_struck(
    api: httpx.AsyncClient, preset: str
) -> None:
    channel = f"crisis-{preset}"
    await api.put(f"/policies/{channel}", json={"policy": {"preset": preset}})
    for _ in range(3):  # repeating it climbs no ladder
        answer = await moderate(api, CRISIS, channel, "ria")
        assert answer["action"] == "hold"
        assert answer["approved"] is False  # hidden from the public feed
        assert answer["acted"] is True and answer["policy_reason"] == "crisis"
        assert answer["policy_category"] in ("self-harm", "self-harm/intent")
        assert answer["reason"].startswith("crisis: ") and "no strike" in answer["reason"]
        assert "strike 1" not in answer["reason"]
        assert answer["notice"] and "findahelpline.com" in answer["notice"]
    assert await strikes(api, channel, "ria") == 0

    queue = (await api.get("/review", params={"channel_id": channel})).json()["items"]
    assert len(queue) == 3 and all(item["priority"] == 100 for item in queue)


#: Disclosures the fast tier is sure of (each scores at or above the classifier's act threshold
#: for its category) though not at the policy's medium severity: a quiet "i don't want to be
#: alive" is as much a call for help as a loud one.
QUIET_DISCLOSURES = [
    "i don't want to be alive anymore",
    "I took a bunch of pills, I just want it to be over",
    # Disclosures the classifier misses, caught by the filter's term list.
    "nobody would care if i disappeared, i'm thinking of ending it all",
    "Work has been rough lately and my landlord keeps calling. Honestly I've started thinking "
    "everyone would be better off without me.",
]


@pytest.mark.parametrize("preset", ["default", "gaming"])
@pytest.mark.parametrize("text", QUIET_DISCLOSURES)
async def test_a_quiet_disclosure_is_held_for_a_human_too(
    api: httpx.AsyncClient, preset: str, text: str
) -> None:
    channel = f"quiet-{preset}"
    await api.put(f"/policies/{channel}", json={"policy": {"preset": preset}})
    answer = await moderate(api, text, channel, "quinn")
    assert answer["action"] == "hold" and answer["policy_reason"] == "crisis", answer["reason"]
    assert answer["notice"] and await strikes(api, channel, "quinn") == 0


async def test_game_talk_of_ending_it_all_is_not_a_disclosure(api: httpx.AsyncClient) -> None:
    answer = await moderate(api, "we should end it all in one teamfight", "arena", "gus")
    assert answer["policy_reason"] != "crisis" and answer["action"] == "allow"


@pytest.mark.parametrize("preset", ["default", "gaming"])
async def test_telling_someone_to_kill_themselves_is_removed_with_a_strike(
    api: httpx.AsyncClient, preset: str
) -> None:
    channel = f"abuse-{preset}"
    await api.put(f"/policies/{channel}", json={"policy": {"preset": preset}})
    answer = await moderate(api, ENCOURAGEMENT, channel, "troll")
    assert answer["action"] in ("delete", "timeout", "ban")
    assert answer["policy_reason"] == "severity"
    assert answer["policy_category"] == "harassment/threatening"
    assert answer["notice"] is None
    assert await strikes(api, channel, "troll") == 1


async def test_the_review_queue_lists_a_crisis_first(api: httpx.AsyncClient) -> None:
    channel = "queue"
    # An ordinary hold (PII at medium severity) arrives first, the crisis after it.
    held = await moderate(api, "mail me at jo.doe@example.com", channel, "ann")
    assert held["action"] == "hold" and held["policy_reason"] == "severity"
    crisis = await moderate(api, CRISIS, channel, "ben")
    response = await api.get(
        "/review", params={"channel_id": channel}, headers=as_(api, "mod_anna")
    )
    items = response.json()["items"]
    assert [i["message_id"] for i in items] == [crisis["message_id"], held["message_id"]]
    assert [i["priority"] for i in items] == [100, 0]


async def test_a_crisis_hold_is_audited_and_sent_like_other_holds(
    api: httpx.AsyncClient,
) -> None:
    channel = "audited"
    answer = await moderate(api, CRISIS, channel, "cal")
    entries = (await api.get("/audit", params={"channel_id": channel})).json()["entries"]
    [entry] = [e for e in entries if e["message_id"] == answer["message_id"]]
    assert entry["action"] == "decision.hold"
    assert entry["details"]["policy_reason"] == "crisis"


async def test_a_channel_names_its_own_resources_message(api: httpx.AsyncClient) -> None:
    channel = "own-words"
    put = await api.put(f"/policies/{channel}", json={"policy": {"crisis": {"message": HELPLINE}}})
    assert put.status_code == 200, put.text
    answer = await moderate(api, CRISIS, channel, "dee")
    assert answer["notice"] == HELPLINE


async def test_denying_a_crisis_in_review_gives_no_strike(api: httpx.AsyncClient) -> None:
    channel = "denied"
    answer = await moderate(api, CRISIS, channel, "eve")
    [item] = (await api.get("/review", params={"channel_id": channel})).json()["items"]
    assert item["message_id"] == answer["message_id"]
    denied = await api.post(f"/review/{item['id']}/deny", json={}, headers=as_(api, "mod_anna"))
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    assert await strikes(api, channel, "eve") == 0


async def test_a_channel_may_switch_crisis_care_off(api: httpx.AsyncClient) -> None:
    channel = "no-care"
    await api.put(f"/policies/{channel}", json={"policy": {"crisis": {"enabled": False}}})
    answer = await moderate(api, CRISIS, channel, "fay")
    assert answer["policy_reason"] == "severity" and answer["notice"] is None


S = Severity
DISCLOSURES = [
    pytest.param({Category.SELF_HARM_INTENT: S.HIGH}, Category.SELF_HARM_INTENT, id="intent"),
    pytest.param({Category.SELF_HARM: S.MEDIUM}, Category.SELF_HARM, id="self-harm"),
    pytest.param({Category.SELF_HARM_INTENT: S.LOW}, Category.SELF_HARM_INTENT, id="low"),
    pytest.param({Category.SELF_HARM_INTENT: S.NONE}, None, id="no-severity"),
    pytest.param(
        {Category.SELF_HARM_INTENT: S.HIGH, Category.PROFANITY: S.HIGH},
        Category.SELF_HARM_INTENT,
        id="swearing-in-crisis-is-still-crisis",
    ),
    pytest.param(
        {Category.SELF_HARM_INTENT: S.HIGH, Category.HARASSMENT_THREATENING: S.HIGH},
        None,
        id="encouragement-is-an-offence",
    ),
    pytest.param(
        {Category.SELF_HARM: S.HIGH, Category.SELF_HARM_INSTRUCTIONS: S.LOW},
        None,
        id="instructions-are-an-offence",
    ),
    pytest.param(
        {Category.SELF_HARM: S.HIGH, Category.HARASSMENT: S.NONE},
        Category.SELF_HARM,
        id="harassment-below-severity-does-not-count",
    ),
]


@pytest.mark.parametrize(("severities", "expected"), DISCLOSURES)
def test_what_counts_as_a_disclosure(
    severities: dict[Category, Severity], expected: Category | None
) -> None:
    found = crisis_disclosure(CrisisConfig(), severities, dict.fromkeys(severities, 0.9))
    assert (found.category if found else None) == expected


def test_a_channel_may_raise_the_bar() -> None:
    severities = {Category.SELF_HARM_INTENT: Severity.LOW}
    config = CrisisConfig(min_severity=Severity.MEDIUM)
    assert crisis_disclosure(config, severities, {Category.SELF_HARM_INTENT: 0.4}) is None


def test_a_blocked_term_beside_a_disclosure_is_an_offence() -> None:
    severities = {Category.SELF_HARM_INTENT: Severity.HIGH}
    assert crisis_disclosure(CrisisConfig(), severities, {}, blocked=True) is None


@pytest.mark.parametrize(
    ("crisis", "problem"),
    [
        pytest.param({"action": "ban"}, "not punished", id="no-ban"),
        pytest.param({"action": "timeout 60"}, "not punished", id="no-timeout"),
        pytest.param({"message": "call\x07 us"}, "printable", id="no-control-characters"),
        pytest.param({"min_severity": "none"}, "low, medium or high", id="some-severity"),
    ],
)
def test_a_crisis_section_that_would_punish_or_break_a_line_is_refused(
    crisis: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidPolicyError, match=problem) as caught:
        load_presets().resolve({"crisis": crisis})
    assert "crisis." in str(caught.value)


def test_a_resources_message_is_one_line() -> None:
    policy = load_presets().resolve({"crisis": {"message": "call us\n  any time"}})
    assert policy.crisis.message == "call us any time"


async def test_a_crisis_hold_reaches_the_webhook_outbox_like_other_holds(database_url: str) -> None:
    settings = load_settings(
        database_url=database_url,
        pipeline_stages="filter,classifier",
        webhook_urls=f"http://127.0.0.1:{free_port()}/hook",  # nobody listens: rows stay
        webhook_secret="s" * 32,
        _env_file=None,
    )
    service = ModerationService.from_settings(settings)
    await service.start()
    try:
        message = Message(text=CRISIS, user_id="gus", channel_id="hooked")
        outcome = await service.moderate(message)
        assert outcome.response["policy_reason"] == "crisis"
        repository = service.decider.repository  # type: ignore[attr-defined]
        rows = [d for d in await repository.deliveries() if d.message_id == message.id]
        bodies = {d.event_type: json.loads(d.body) for d in rows}
        assert set(bodies) == {"decision", "review.held"}
        assert bodies["decision"]["action"] == "hold"
        assert bodies["decision"]["policy_reason"] == "crisis" and bodies["decision"]["notice"]
        assert bodies["review.held"]["priority"] == 100
        assert CRISIS not in json.dumps(bodies)  # ids and outcomes, never the text
    finally:
        await service.close()
