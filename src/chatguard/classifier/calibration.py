"""Calibration (Platt scaling) and the choice of the router's thresholds, both on validation data.

Platt scaling fits probability = sigmoid(a * logit + b) per head, so a score of 0.8 means about
80% of such messages were positive in validation. Thresholds per category:

- `act`:   the lowest score such that validation messages at or above it are positive with
           precision `act_precision` (acting without the LLM must be right);
- `allow`: the score below which only `1 - allow_recall` of validation positives fall;
- then, on each source of real chat traffic, `allow` rises category by category until at most
  `escalation_budget` of its messages sit in an uncertain band (allow <= score < act);
- `flag`:  best F1 on validation (one shared value for the OpenAI categories, so "flagged" means
           one thing);
- report-only categories (profanity) get allow = act = 1.0: flagged in reports, never routed;
- categories whose validation positives are mostly template-written (`floored`) act only at
  `min_act` or above: their validation says little about real traffic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from chatguard.classifier.model import HeadThresholds
from chatguard.evaluation.metrics import best_f1


def fit_platt(
    logits: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, float]:
    """(a, b) minimizing the weighted log loss of sigmoid(a * logit + b), by Newton's method.
    Labels are smoothed as Platt proposed, so a separable validation set cannot blow up `a`."""
    x = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    n_pos, n_neg = float(w[y > 0].sum()), float(w[y <= 0].sum())
    if n_pos == 0 or n_neg == 0:
        return 1.0, 0.0
    target = np.where(y > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    a, b = 1.0, 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(a * x + b)))
        r = w * (p - target)
        g = np.array([np.sum(r * x), np.sum(r)])
        d = w * p * (1 - p) + 1e-12
        h = np.array([[np.sum(d * x * x), np.sum(d * x)], [np.sum(d * x), np.sum(d)]])
        h += np.eye(2) * 1e-9
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.max(np.abs(step)) < 1e-8:
            break
    return float(a), float(b)


@dataclass(frozen=True, slots=True)
class ThresholdPolicy:
    act_precision: float = 0.9
    allow_recall: float = 0.95
    escalation_budget: float = 0.02
    min_positives: int = 5
    #: Categories reported (flagged) but never routed on: allow = act = 1.0. Swearing is for
    #: channel policy, not for the LLM, and a profanity hit from a filter stage must not stop the
    #: cascade before the classifier scores the OpenAI categories.
    report_only: tuple[str, ...] = ("profanity",)
    #: Categories taught mostly by template-written rows, and the lowest act threshold they get.
    floored: tuple[str, ...] = (
        "hate/threatening",
        "violence/graphic",
        "sexual/minors",
        "self-harm/instructions",
        "illicit/violent",
    )
    min_act: float = 0.5


def act_threshold(
    labels: np.ndarray, scores: np.ndarray, precision: float, *, min_support: int = 10
) -> float:
    """The lowest score t such that the messages scoring >= t are positive with at least
    `precision`, counting only cut-offs with `min_support` messages above them; 1.0 if none."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tp = np.cumsum(y)[last_of_tie]
    support = last_of_tie + 1
    ok = (tp / support >= precision) & (support >= min_support)
    if not ok.any():
        return 1.0
    # Acting on everything at or above this score is right `precision` of the time.
    return float(s[last_of_tie[np.flatnonzero(ok)[-1]]])


def allow_threshold(labels: np.ndarray, scores: np.ndarray, recall: float) -> float:
    """The score below which at most `1 - recall` of the positives fall."""
    positives = np.sort(np.asarray(scores, dtype=np.float64)[np.asarray(labels, dtype=bool)])
    if positives.size == 0:
        return 0.5
    return float(positives[int(np.floor((1 - recall) * positives.size))])


def choose_thresholds(
    validation: Mapping[str, tuple[np.ndarray, np.ndarray]],
    traffic: Mapping[str, Mapping[str, np.ndarray]],
    *,
    openai: frozenset[str],
    policy: ThresholdPolicy | None = None,
) -> dict[str, HeadThresholds]:
    """Thresholds per category from validation (labels, scores) and, per traffic source, the
    scores of unlabeled real chat (source -> category -> scores)."""
    policy = policy or ThresholdPolicy()
    allow: dict[str, float] = {}
    act: dict[str, float] = {}
    flag: dict[str, float] = {}
    for name, (labels, scores) in validation.items():
        if int(np.sum(labels)) < policy.min_positives:
            continue
        flag[name] = best_f1(labels, scores).threshold
        if name in policy.report_only:
            allow[name] = act[name] = 1.0
            continue
        act[name] = act_threshold(labels, scores, policy.act_precision)
        if name in policy.floored:
            act[name] = max(act[name], policy.min_act)
        allow[name] = min(allow_threshold(labels, scores, policy.allow_recall), act[name])
    shared = _shared_flag(validation, set(openai) & set(flag))
    for name in openai & set(flag):
        flag[name] = shared
    _fit_budget(allow, act, traffic, policy.escalation_budget, validation=validation)
    return {
        name: HeadThresholds(
            allow=round(allow[name], 4), act=round(act[name], 4), flag=round(flag[name], 4)
        )
        for name in sorted(act)
    }


def _shared_flag(validation: Mapping[str, tuple[np.ndarray, np.ndarray]], names: set[str]) -> float:
    """Best-F1 threshold for "any of these categories" scored as the max over them."""
    if not names:
        return 0.5
    labels = np.concatenate([validation[n][0] for n in sorted(names)])
    scores = np.concatenate([validation[n][1] for n in sorted(names)])
    return best_f1(labels, scores).threshold


def _fit_budget(
    allow: dict[str, float],
    act: dict[str, float],
    traffic: Mapping[str, Mapping[str, np.ndarray]],
    budget: float,
    *,
    validation: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> None:
    """Raise `allow` thresholds until at most `budget` of each traffic source is uncertain.

    Each step moves one category's `allow` up past a tenth of the messages it puts in the band
    of the source furthest over budget. The category moved is the one whose slice so cleared
    holds the fewest positives on validation (the share of labelled validation messages scoring
    in it that are positive), so the band stays wide where a score there is a coin toss and
    narrows first where it is nearly always clean. Without validation labels, the category with
    the most messages in the band moves."""
    sources = [scores for scores in traffic.values() if scores]
    names = [n for n in allow if all(n in scores for scores in sources)]
    if not names or not sources:
        return
    matrices = [np.stack([scores[n] for n in names], axis=1) for scores in sources]
    for _ in range(1000):
        lo = np.array([allow[n] for n in names])
        hi = np.array([act[n] for n in names])
        bands = []
        for matrix in matrices:
            acted = np.asarray((matrix >= hi).any(axis=1))
            bands.append((matrix >= lo) & (matrix < hi) & ~acted[:, None])
        shares = [band.any(axis=1).mean() for band in bands]
        worst_source = int(np.argmax(shares))
        if shares[worst_source] <= budget:
            return
        band, matrix = bands[worst_source], matrices[worst_source]
        counts = band.sum(axis=0)
        cuts: dict[int, float] = {}
        for i in (int(j) for j in np.flatnonzero(counts)):
            in_band = np.sort(matrix[band[:, i], i])
            name = names[i]
            cut = in_band[min(in_band.size - 1, max(1, in_band.size // 10))]
            cuts[i] = float(min(act[name], max(cut, allow[name] + 1e-4)))
        if validation is None:
            worst = int(np.argmax(counts))
        else:
            costs = {
                i: (_slice_yield(validation, names[i], allow[names[i]], cut), -int(counts[i]))
                for i, cut in cuts.items()
            }
            worst = min(costs, key=costs.__getitem__)
        allow[names[worst]] = cuts[worst]


def _slice_yield(
    validation: Mapping[str, tuple[np.ndarray, np.ndarray]], name: str, low: float, high: float
) -> float:
    """The share of positives among validation messages scoring in [low, high) for `name`,
    smoothed towards one half (an empty slice counts as a coin toss)."""
    if name not in validation:
        return 0.5
    labels, scores = validation[name]
    inside = (scores >= low) & (scores < max(high, low + 1e-4))
    return float((np.sum(labels[inside]) + 1) / (np.sum(inside) + 2))
