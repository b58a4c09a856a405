"""Ranking and threshold metrics in numpy: average precision (AUPRC), precision, recall, F1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the precision-recall curve as average precision (scikit-learn's definition:
    precision at each positive, ties broken as one step). None when there is no positive."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos = int(y.sum())
    if n_pos == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    # Evaluate only at the last index of each run of tied scores.
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tp = np.cumsum(y)[last_of_tie]
    predicted = last_of_tie + 1
    precision = tp / predicted
    recall = tp / n_pos
    recall_step = np.diff(np.r_[0.0, recall])
    return float(np.sum(recall_step * precision))


@dataclass(frozen=True, slots=True)
class BinaryScores:
    precision: float
    recall: float
    f1: float
    threshold: float


def scores_at(labels: np.ndarray, predicted: np.ndarray, threshold: float) -> BinaryScores:
    """Precision, recall and F1 of boolean `predicted` against `labels`."""
    y = np.asarray(labels, dtype=bool)
    p = np.asarray(predicted, dtype=bool)
    tp = int(np.sum(y & p))
    precision = tp / int(p.sum()) if p.any() else 0.0
    recall = tp / int(y.sum()) if y.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return BinaryScores(precision, recall, f1, threshold)


def best_f1(labels: np.ndarray, scores: np.ndarray) -> BinaryScores:
    """The threshold (one of the scores) with the highest F1, and the figures there."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos = int(y.sum())
    if n_pos == 0 or s.size == 0:
        return BinaryScores(0.0, 0.0, 0.0, 0.5)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tp = np.cumsum(y)[last_of_tie]
    predicted = last_of_tie + 1
    precision = tp / predicted
    recall = tp / n_pos
    f1 = np.where(tp > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    i = int(np.argmax(f1))
    return BinaryScores(
        float(precision[i]), float(recall[i]), float(f1[i]), float(s[last_of_tie[i]])
    )


def percentiles(values: np.ndarray, qs: tuple[float, ...] = (50, 95, 99)) -> dict[str, float]:
    """{"p50": ..., "p95": ..., "p99": ...} of `values` (0.0 for an empty array)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return {f"p{q:g}": 0.0 for q in qs}
    return {f"p{q:g}": float(np.percentile(v, q)) for q in qs}
