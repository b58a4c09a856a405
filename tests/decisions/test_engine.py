"""The policy engine with storage (SQLite and PostgreSQL): strikes escalate and decay, the
decision shows the rung and why, holds reach the review queue, the audit log records actions."""

from __future__ import annotations

import pytest

from chatguard.decisions import PolicyEngine
from chatguard.decisions.presets import load_presets
from chatguard.decisions.records import ReviewStatus
from chatguard.decisions.repository import DecisionRepository
from chatguard.domain import Action, Message, Route
from tests.decisions.conftest import Clock, make_assessment

TOXIC = make_assessment({"harassment/threatening": 0.95}, Route.ACT)


def offence(user: str = "troll", channel: str = "lobby") -> Message:
    return Message(text="kys", user_id=user, channel_id=channel)


LADDER = [
    # n-th offence within a day on the default ladder: warn, delete, 10 min, 24 h, ban
    pytest.param(1, Action.DELETE, None, "warn", id="first-warn"),
    pytest.param(2, Action.DELETE, None, "delete", id="second-delete"),
    pytest.param(3, Action.TIMEOUT, 600, "timeout 10m", id="third-timeout-10m"),
    pytest.param(4, Action.TIMEOUT, 86400, "timeout 24h", id="fourth-timeout-24h"),
    pytest.param(5, Action.BAN, None, "ban", id="fifth-ban"),
    pytest.param(6, Action.BAN, None, "ban", id="sixth-stays-ban"),
]


@pytest.mark.parametrize(("nth", "action", "duration", "rung"), LADDER)
async def test_repeat_offences_climb_the_ladder(
    engine: PolicyEngine, clock: Clock, nth: int, action: Action, duration: int | None, rung: str
) -> None:
    for _ in range(nth - 1):
        await engine.decide(offence(), TOXIC)
        clock.advance(60)
    decision = await engine.decide(offence(), TOXIC)
    assert (decision.action, decision.duration_s) == (action, duration)
    assert f"strike {nth} ({rung};" in decision.reason
    assert f"rung:{nth}:{rung}" in decision.trail


async def test_strikes_are_per_user_and_channel(engine: PolicyEngine) -> None:
    for _ in range(2):
        await engine.decide(offence("troll", "lobby"), TOXIC)
    assert (await engine.decide(offence("troll", "lobby"), TOXIC)).action is Action.TIMEOUT
    assert (await engine.decide(offence("troll", "other"), TOXIC)).action is Action.DELETE
    assert (await engine.decide(offence("someone", "lobby"), TOXIC)).action is Action.DELETE


async def test_strikes_decay(engine: PolicyEngine, clock: Clock) -> None:
    await engine.decide(offence(), TOXIC)
    await engine.decide(offence(), TOXIC)
    clock.advance(86_400 + 1)  # the default decay: a day
    decision = await engine.decide(offence(), TOXIC)
    assert decision.action is Action.DELETE
    assert "strike 1 (warn; 0 earlier" in decision.reason
    # Decay is per strike: the one just given counts, the two old ones do not.
    assert "strike 2 (delete; 1 earlier" in (await engine.decide(offence(), TOXIC)).reason


async def test_a_channel_ladder_and_decay_come_from_its_policy(
    engine: PolicyEngine, clock: Clock
) -> None:
    await engine.policies.put(
        "kidsroom", {"preset": "kids", "ladder": {"decay_s": 60}}, actor="owner"
    )
    first = await engine.decide(offence(channel="kidsroom"), TOXIC)
    second = await engine.decide(offence(channel="kidsroom"), TOXIC)
    assert (first.action, first.duration_s) == (Action.TIMEOUT, 600)  # kids: high → 10 min
    assert second.action is Action.TIMEOUT and "strike 2 (timeout 10m" in second.reason
    clock.advance(61)
    assert "strike 1 (delete" in (await engine.decide(offence(channel="kidsroom"), TOXIC)).reason


async def test_clean_and_flagged_messages_give_no_strike(engine: PolicyEngine) -> None:
    clean = make_assessment({"harassment": 0.05}, Route.ALLOW)
    for _ in range(3):
        assert (await engine.decide(offence(), clean)).action is Action.ALLOW
    assert engine.strikes is not None
    assert await engine.strikes.history("lobby", "troll") == []


async def test_a_hold_lands_in_the_review_queue_with_its_text(engine: PolicyEngine) -> None:
    message = Message(text="you people are something", user_id="u1", channel_id="lobby")
    decision = await engine.decide(message, make_assessment({"hate": 0.5}, Route.UNCERTAIN))
    assert decision.action is Action.HOLD
    assert engine.reviews is not None
    [item] = await engine.reviews.items(channel_id="lobby", status=ReviewStatus.PENDING)
    assert (item.message_id, item.text, item.user_id) == (message.id, message.text, "u1")
    assert item.scores == {"hate": 0.5}


async def test_actions_are_audited_and_clean_messages_are_not(engine: PolicyEngine) -> None:
    assert engine.audit is not None
    await engine.decide(offence(user="ok"), make_assessment({}, Route.ALLOW))
    await engine.decide(offence(), TOXIC)
    [entry] = await engine.audit.entries(channel_id="lobby")
    assert (entry.actor, entry.actor_kind, entry.action) == (
        "policy:default",
        "system",
        "decision.delete",
    )
    assert entry.user_id == "troll" and "strike 1" in entry.reason
    assert entry.details["policy_version"] == 0 and entry.details["top_score"] == 0.95


async def test_policy_changes_are_versioned_and_push_terms(engine: PolicyEngine) -> None:
    pushed: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
    engine.set_terms_hook(lambda c, b, p: pushed.append((c, tuple(b), tuple(p))))
    await engine.policies.put("arena", {"preset": "gaming"}, actor="alice", reason="esports")
    await engine.policies.put("arena", {"preset": "gaming", "blocked_terms": ["Rekt"]}, actor="bob")
    reset = await engine.policies.reset("arena", actor="carol", reason="back to normal")
    versions = await engine.policies.versions("arena")
    assert [(v.version, v.actor) for v in versions] == [(1, "alice"), (2, "bob"), (3, "carol")]
    assert versions[0].document == {"preset": "gaming"} and versions[2].document is None
    assert reset.policy.name == "default" and reset.version == 3
    assert pushed == [("arena", (), ()), ("arena", ("rekt",), ()), ("arena", (), ())]
    assert engine.audit is not None
    actions = [e.action for e in await engine.audit.entries(channel_id="arena")]
    assert actions == ["policy.reset", "policy.update", "policy.update"]


async def test_decisions_follow_the_newest_policy_version(engine: PolicyEngine) -> None:
    swear = make_assessment({"profanity": 0.6}, Route.UNCERTAIN)
    message = Message(text="damn", user_id="u", channel_id="swap")
    assert (await engine.decide(message, swear)).action is Action.HOLD
    await engine.policies.put("swap", {"preset": "gaming"}, actor="owner")
    decision = await engine.decide(message, swear)
    assert decision.action is Action.ALLOW and decision.policy == "gaming"


async def test_a_stored_policy_that_no_longer_resolves_falls_back_to_the_default(
    engine: PolicyEngine,
) -> None:
    assert engine.repository is not None
    # Written directly, as an older release with a preset since removed would have left it.
    await engine.repository.add_policy_version(
        "legacy", {"preset": "retired"}, actor="old", reason=""
    )
    decision = await engine.decide(offence(channel="legacy"), TOXIC)
    assert decision.action is Action.DELETE and decision.policy == "default"
    version = load_presets().version
    assert f"policy:default v1 (defaults v{version}, stored override invalid)" in decision.trail


async def test_the_review_queue_applies_the_default_action_in_the_background(
    engine: PolicyEngine, clock: Clock
) -> None:
    import asyncio

    message = Message(text="borderline", user_id="u", channel_id="lobby")
    await engine.decide(message, make_assessment({"hate": 0.5}, Route.UNCERTAIN))
    assert engine.reviews is not None
    engine.reviews.start(interval_s=0.01)
    clock.advance(301)  # the default review timeout is 300 s
    for _ in range(500):
        [item] = await engine.reviews.items(channel_id="lobby", status=None)
        if item.status is not ReviewStatus.PENDING:
            break
        await asyncio.sleep(0.01)
    assert (item.status, item.outcome, item.resolved_by) == (
        ReviewStatus.EXPIRED,
        "delete",
        "system",
    )


async def test_a_provisional_removal_gives_no_strike(engine: PolicyEngine) -> None:
    await engine.policies.put("strict", {"fail_mode": "closed"}, actor="owner")
    pending = make_assessment({"harassment": 0.5}, Route.UNCERTAIN, pending=True)
    decision = await engine.decide(offence(channel="strict"), pending)
    assert (decision.action, decision.provisional) == (Action.DELETE, True)
    assert engine.strikes is not None
    assert await engine.strikes.history("strict", "troll") == []


@pytest.mark.parametrize(
    ("redaction", "stored"),
    [
        pytest.param("off", "mail me at ann@example.com, you people", id="off"),
        pytest.param("label", "mail me at [EMAIL_ADDRESS], you people", id="label"),
    ],
)
async def test_a_held_message_is_stored_redacted_when_redaction_is_on(
    repository: DecisionRepository, clock: Clock, redaction: str, stored: str
) -> None:
    from chatguard.domain import Span
    from chatguard.taxonomy import Category

    engine = PolicyEngine(repository=repository, clock=clock, redaction=redaction)
    text = "mail me at ann@example.com, you people"
    spans = (Span(11, 26, Category.PII, "EMAIL_ADDRESS", 1.0),)
    assessment = make_assessment({"hate": 0.5}, Route.UNCERTAIN, spans=spans)
    decision = await engine.decide(Message(text=text, user_id="u", channel_id="c"), assessment)
    assert decision.action is Action.HOLD
    assert engine.reviews is not None
    [item] = await engine.reviews.items(channel_id="c")
    assert item.text == stored
    await engine.reviews.deny(item.id, actor="mod")
    [label] = await repository.labels(channel_id="c")
    assert label.text == stored  # the label keeps what the store keeps
