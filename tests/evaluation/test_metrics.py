"""Average precision, F1 and percentiles against hand-worked values."""

from __future__ import annotations

import numpy as np
import pytest

from chatguard.evaluation.metrics import average_precision, best_f1, percentiles, scores_at


@pytest.mark.parametrize(
    ("labels", "scores", "expected"),
    [
        ([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], (1 / 1 + 2 / 3) / 2),
        ([1, 1, 0, 0], [0.9, 0.8, 0.7, 0.1], 1.0),
        ([0, 0, 1, 1], [0.9, 0.8, 0.7, 0.1], (1 / 3 + 2 / 4) / 2),
        ([1, 0], [0.5, 0.5], 0.5),
    ],
    ids=["interleaved", "perfect", "reversed", "tie"],
)
def test_average_precision(labels: list[int], scores: list[float], expected: float) -> None:
    assert average_precision(np.array(labels), np.array(scores)) == pytest.approx(expected)


def test_average_precision_without_positives_is_none() -> None:
    assert average_precision(np.array([0, 0]), np.array([0.1, 0.2])) is None


def test_scores_at() -> None:
    s = scores_at(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]), 0.5)
    assert (s.precision, s.recall, s.f1) == (0.5, 0.5, 0.5)


def test_best_f1_picks_the_separating_threshold() -> None:
    result = best_f1(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.3, 0.1]))
    assert result.f1 == 1.0 and result.threshold == 0.8


def test_percentiles() -> None:
    assert percentiles(np.arange(101.0)) == {"p50": 50.0, "p95": 95.0, "p99": 99.0}
