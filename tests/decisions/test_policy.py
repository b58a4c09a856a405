"""Channel policy without storage: presets, levels, actions, exempt roles, terms, fail mode,
and validation that names the field."""

from __future__ import annotations

from typing import Any

import pytest

from chatguard.decisions import PolicyEngine
from chatguard.decisions.evaluate import evaluate
from chatguard.decisions.policy import LEVELS, ActionRule, Severity
from chatguard.decisions.presets import load_presets
from chatguard.decisions.terms import TermMatcher
from chatguard.domain import Action, Message, Role, Route, Span
from chatguard.errors import ConfigurationError, InvalidPolicyError
from chatguard.taxonomy import Category
from tests.decisions.conftest import make_assessment

DEFAULTS_VERSION = load_presets().version

PRESETS = load_presets()


def decide(preset: str | dict[str, Any], assessment: Any, *, text: str = "msg", roles=()) -> Any:
    override = {"preset": preset} if isinstance(preset, str) else preset
    policy = PRESETS.resolve(override)
    message = Message(text=text, user_id="u", channel_id="c", roles=frozenset(roles))
    return evaluate(
        policy, message, assessment, TermMatcher(policy.blocked_terms, policy.permitted_terms)
    )


# The same assessment, three channels: what each does with it.
SAME_ASSESSMENT = [
    pytest.param({"profanity": 0.6}, Route.UNCERTAIN, "gaming", Action.ALLOW, id="swear-gaming"),
    pytest.param({"profanity": 0.6}, Route.UNCERTAIN, "default", Action.HOLD, id="swear-default"),
    pytest.param({"profanity": 0.6}, Route.UNCERTAIN, "kids", Action.DELETE, id="swear-kids"),
    pytest.param({"harassment": 0.8}, Route.ACT, "gaming", Action.ALLOW, id="trash-talk-gaming"),
    pytest.param({"harassment": 0.8}, Route.ACT, "default", Action.HOLD, id="trash-talk-default"),
    pytest.param({"harassment": 0.8}, Route.ACT, "kids", Action.TIMEOUT, id="trash-talk-kids"),
    pytest.param({"hate": 0.95}, Route.ACT, "gaming", Action.DELETE, id="hate-gaming"),
    pytest.param({"hate": 0.95}, Route.ACT, "kids", Action.TIMEOUT, id="hate-kids"),
    pytest.param({"harassment": 0.1}, Route.ALLOW, "kids", Action.ALLOW, id="clean-kids"),
]


@pytest.mark.parametrize(("scores", "route", "preset", "expected"), SAME_ASSESSMENT)
def test_the_same_assessment_gets_each_channels_action(
    scores: dict[str, float], route: Route, preset: str, expected: Action
) -> None:
    verdict = decide(preset, make_assessment(scores, route))
    assert verdict.rule.action is expected
    if expected is Action.TIMEOUT:
        assert verdict.rule.duration_s == 600


EXEMPT = [
    pytest.param("default", Role.MODERATOR, Action.ALLOW, id="moderator-default"),
    pytest.param("default", Role.BROADCASTER, Action.ALLOW, id="broadcaster-default"),
    pytest.param("default", Role.VIP, Action.DELETE, id="vip-not-exempt-default"),
    pytest.param("gaming", Role.VIP, Action.ALLOW, id="vip-exempt-gaming"),
    pytest.param("kids", Role.SUBSCRIBER, Action.TIMEOUT, id="subscriber-not-exempt-kids"),
    pytest.param(
        {"preset": "kids", "exempt_roles": ["subscriber"]},
        Role.SUBSCRIBER,
        Action.ALLOW,
        id="subscriber-exempt-by-override",
    ),
]


@pytest.mark.parametrize(("preset", "role", "expected"), EXEMPT)
def test_exempt_roles(preset: Any, role: Role, expected: Action) -> None:
    verdict = decide(preset, make_assessment({"hate": 0.95}), roles={role})
    assert verdict.rule.action is expected
    assert verdict.exempt is (expected is Action.ALLOW)


@pytest.mark.parametrize(
    ("level", "score", "severity"),
    [
        pytest.param(0, 0.99, Severity.NONE, id="level0-off"),
        pytest.param(1, 0.89, Severity.NONE, id="level1-below-high"),
        pytest.param(1, 0.9, Severity.HIGH, id="level1-high"),
        pytest.param(2, 0.8, Severity.MEDIUM, id="level2-medium"),
        pytest.param(3, 0.6, Severity.LOW, id="level3-low"),
        pytest.param(4, 0.4, Severity.LOW, id="level4-low"),
        pytest.param(4, 0.76, Severity.HIGH, id="level4-high"),
    ],
)
def test_levels_set_severity(level: int, score: float, severity: Severity) -> None:
    assert LEVELS[level].severity(score) is severity


def test_explicit_thresholds_replace_the_level() -> None:
    override = {"categories": {"harassment": {"thresholds": {"low": 0.2, "high": 0.3}}}}
    verdict = decide(override, make_assessment({"harassment": 0.35}))
    assert verdict.severity is Severity.HIGH and verdict.rule.action is Action.DELETE


def test_category_actions_override_the_policy_actions() -> None:
    override = {"categories": {"spam": {"level": 4, "actions": {"high": "timeout 60"}}}}
    verdict = decide(override, make_assessment({"spam": 0.9}))
    assert verdict.rule == ActionRule(action=Action.TIMEOUT, duration_s=60)


FAIL_MODES = [
    pytest.param("hold", Action.HOLD, id="hold"),
    pytest.param("open", Action.ALLOW, id="open"),
    pytest.param("closed", Action.DELETE, id="closed"),
]


@pytest.mark.parametrize(("mode", "expected"), FAIL_MODES)
@pytest.mark.parametrize("how", ["pending", "llm_failed"])
def test_fail_mode_when_the_llm_cannot_judge(mode: str, expected: Action, how: str) -> None:
    assessment = make_assessment({"harassment": 0.5}, Route.UNCERTAIN, **{how: True})
    verdict = decide({"fail_mode": mode}, assessment)
    assert verdict.rule.action is expected
    assert verdict.fallback is True
    # Only a pending adjudicator makes the decision provisional: a final one follows.
    assert verdict.provisional is (how == "pending")
    assert f"fail_mode:{mode}" in verdict.steps


def test_a_stage_asking_for_review_holds() -> None:
    assessment = make_assessment({"harassment": 0.2}, Route.ALLOW, review=True)
    verdict = decide("gaming", assessment)
    assert verdict.rule.action is Action.HOLD and "review:requested" in verdict.steps


def test_uncertain_goes_to_review_by_default_and_per_policy() -> None:
    assessment = make_assessment({"harassment": 0.5}, Route.UNCERTAIN)
    assert decide("default", assessment).rule.action is Action.HOLD
    assert decide({"uncertain_action": "flag"}, assessment).rule.action is Action.FLAG


def test_blocked_terms_act_even_when_no_stage_scored() -> None:
    override = {"blocked_terms": ["Spoilerword"], "blocked_term_severity": "high"}
    # Normalization folds the Cyrillic "о" and the case, as the rule stage does.
    verdict = decide(override, make_assessment({}, Route.ALLOW), text="the spоilerword is here")
    assert verdict.rule.action is Action.DELETE and "blocked_term" in verdict.steps
    clean = decide(override, make_assessment({}, Route.ALLOW), text="spoilerwords differ")
    assert clean.rule.action is Action.ALLOW


def test_permitted_terms_neutralize_rule_hits() -> None:
    text = "oh shit that was close"
    spans = (Span(3, 7, Category.PROFANITY, "blocked_term", 0.5),)
    assessment = make_assessment({"profanity": 0.5}, Route.UNCERTAIN, spans=spans)
    assert decide("kids", assessment, text=text).rule.action is Action.DELETE
    permitted = decide({"preset": "kids", "permitted_terms": ["shit"]}, assessment, text=text)
    assert permitted.rule.action is Action.ALLOW


BAD_POLICIES = [
    pytest.param({"categories": {"hate": {"level": 7}}}, "categories.hate.level", id="level"),
    pytest.param({"categories": {"nonsense": {"level": 1}}}, "categories.nonsense", id="category"),
    pytest.param({"actions": {"high": "timeout"}}, "actions.high", id="timeout-no-duration"),
    pytest.param({"actions": {"low": "explode"}}, "actions.low", id="unknown-action"),
    pytest.param({"fail_mode": "maybe"}, "fail_mode", id="fail-mode"),
    pytest.param({"ladder": {"rungs": []}}, "ladder.rungs", id="empty-ladder"),
    pytest.param({"review": {"default_action": "hold"}}, "review.default_action", id="hold-again"),
    pytest.param({"exempt_roles": ["king"]}, "exempt_roles", id="role"),
    pytest.param({"colour": "red"}, "colour", id="unknown-field"),
    pytest.param({"preset": "casino"}, "preset", id="unknown-preset"),
    pytest.param(
        {"categories": {"spam": {"thresholds": {"low": 0.9, "high": 0.5}}}},
        "categories.spam.thresholds",
        id="falling-thresholds",
    ),
]


@pytest.mark.parametrize(("override", "field"), BAD_POLICIES)
def test_an_invalid_policy_names_the_field(override: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPolicyError) as caught:
        PRESETS.resolve(override)
    assert field in str(caught.value)


def test_every_preset_resolves_and_the_defaults_are_versioned() -> None:
    assert {"default", "gaming", "kids"} <= set(PRESETS.names)
    assert PRESETS.version >= 1
    for name in PRESETS.names:
        assert PRESETS.resolve({"preset": name}).name == name


def test_a_broken_defaults_file_refuses_to_start(tmp_path: Any) -> None:
    bad = tmp_path / "defaults.yaml"
    bad.write_text("version: 1\nbase: {}\npresets:\n  default: {fail_mode: sometimes}\n")
    with pytest.raises(ConfigurationError, match=r"presets\.default"):
        load_presets(bad)


async def test_engine_without_a_database_still_applies_channel_presets() -> None:
    engine = PolicyEngine()
    decision = await engine.decide(
        Message(text="x", user_id="u", channel_id="c"), make_assessment({"hate": 0.95})
    )
    assert decision.action is Action.DELETE
    assert (
        decision.policy == "default"
        and f"policy:default v0 (defaults v{DEFAULTS_VERSION})" in decision.trail
    )


def test_watched_holds_the_thresholds_of_every_category_with_a_severity_on() -> None:
    policy = PRESETS.resolve(
        {
            "preset": "default",
            "categories": {"profanity": {"level": 0}, "spam": {"thresholds": {"high": 0.9}}},
        }
    )
    assert Category.PROFANITY not in policy.watched
    assert policy.watched[Category.SPAM].high == 0.9
    assert set(policy.watched) == {c for c in Category if policy.thresholds_for(c).enabled}
    for category, thresholds in policy.watched.items():
        assert thresholds == policy.thresholds_for(category)
    # An unwatched category's score reaches no severity, however high.
    verdict = evaluate(
        policy,
        Message(text="msg", user_id="u", channel_id="c"),
        make_assessment({"profanity": 0.99}, route=Route.ACT),
        TermMatcher(policy.blocked_terms, policy.permitted_terms),
    )
    assert verdict.severity is Severity.NONE
