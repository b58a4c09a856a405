"""Platt scaling and the choice of router thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from chatguard.classifier.calibration import (
    ThresholdPolicy,
    act_threshold,
    allow_threshold,
    choose_thresholds,
    fit_platt,
)


def test_platt_recovers_a_known_sigmoid() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, 20000)
    labels = rng.random(20000) < 1 / (1 + np.exp(-(0.5 * logits - 1.0)))
    a, b = fit_platt(logits, labels)
    assert a == pytest.approx(0.5, abs=0.05)
    assert b == pytest.approx(-1.0, abs=0.08)


def test_platt_without_both_classes_is_the_identity() -> None:
    assert fit_platt(np.array([0.1, 2.0]), np.array([1, 1])) == (1.0, 0.0)


def test_act_threshold_is_the_lowest_score_keeping_the_precision() -> None:
    scores = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5])
    labels = np.array([0, 1, 1, 1, 1, 0])
    # At 0.6 and above: 4 of 5 right (0.8); at 0.5: 4 of 6.
    assert act_threshold(labels, scores, 0.8, min_support=1) == 0.6
    assert act_threshold(labels, scores, 0.8, min_support=6) == 1.0
    assert act_threshold(labels, scores, 1.01, min_support=1) == 1.0


def test_allow_threshold_keeps_the_recall() -> None:
    scores = np.linspace(0, 1, 101)
    labels = scores >= 0.5
    assert allow_threshold(labels, scores, 0.9) == pytest.approx(0.55)


def test_thresholds_respect_the_escalation_budget_on_traffic() -> None:
    rng = np.random.default_rng(2)
    labels = rng.random(4000) < 0.3
    scores = np.clip(labels * 0.5 + rng.random(4000) * 0.5, 0, 1)
    chat = rng.beta(1, 4, 5000)
    traffic = {"chat": {"harassment": chat}}
    chosen = choose_thresholds(
        {"harassment": (labels, scores)},
        traffic,
        openai=frozenset({"harassment"}),
        policy=ThresholdPolicy(escalation_budget=0.05),
    )
    t = chosen["harassment"]
    assert 0 <= t.allow <= t.act <= 1
    uncertain = (chat >= t.allow) & (chat < t.act)
    assert uncertain.mean() <= 0.05


def test_the_budget_is_taken_first_from_bands_that_are_nearly_always_clean() -> None:
    rng = np.random.default_rng(3)
    scores = rng.random(8000)
    high = rng.random(8000) < 0.97
    # Harassment between 0.3 and 0.8 is a coin toss; violence there is nearly always clean.
    coin = np.where(scores >= 0.8, high, np.where(scores >= 0.3, rng.random(8000) < 0.5, False))
    clean = np.where(scores >= 0.8, high, np.where(scores >= 0.3, rng.random(8000) < 0.05, False))
    chat = {"harassment": rng.beta(1, 4, 5000), "violence": rng.beta(1, 4, 5000)}
    chosen = choose_thresholds(
        {"harassment": (coin, scores), "violence": (clean, scores)},
        {"chat": chat},
        openai=frozenset({"harassment", "violence"}),
        policy=ThresholdPolicy(escalation_budget=0.05),
    )
    h, v = chosen["harassment"], chosen["violence"]
    in_band = {name: (chat[name] >= t.allow) & (chat[name] < t.act) for name, t in chosen.items()}
    assert (in_band["harassment"] | in_band["violence"]).mean() <= 0.05
    # The coin-toss band keeps most of the budget; the clean one is narrowed first.
    assert in_band["harassment"].sum() > 3 * in_band["violence"].sum()
    assert h.act - h.allow > v.act - v.allow


def test_report_only_categories_are_never_routed() -> None:
    labels = np.array([1, 1, 0, 0] * 10)
    scores = np.array([0.9, 0.8, 0.2, 0.1] * 10)
    chosen = choose_thresholds(
        {"profanity": (labels, scores), "spam": (labels, scores)}, {}, openai=frozenset()
    )
    assert (chosen["profanity"].allow, chosen["profanity"].act) == (1.0, 1.0)
    assert chosen["profanity"].flag == 0.8
    assert chosen["spam"].act < 1.0
