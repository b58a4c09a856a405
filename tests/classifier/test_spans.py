"""Spans: how a message is cut, and the span heads taking the maximum over them."""

from __future__ import annotations

import numpy as np
import pytest

from chatguard.classifier.features import FeatureConfig, featurize
from chatguard.classifier.model import LinearModel
from chatguard.classifier.spans import SpanConfig, split_spans

CONFIG = SpanConfig(heads=("harassment",), window=6, stride=3)

SPLITS = [
    pytest.param("gg wp", [], id="one-span-is-scored-once"),
    pytest.param(
        "great stream today. you are trash",
        ["great stream today.", "you are trash"],
        id="sentences",
    ),
    pytest.param("ok. fine. you are trash", ["ok. fine.", "you are trash"], id="short-joins-next"),
    pytest.param("gg [sepa] uninstall noob", [], id="chat-separator-short-joins"),
    pytest.param("gg wp [sepa] uninstall noob", ["gg wp", "uninstall noob"], id="chat-separator"),
    pytest.param(
        "a b c d e f g h i",
        ["a b c d e f", "d e f g h i"],
        id="windows-in-a-long-sentence",
    ),
    pytest.param("line one here\nline two here", ["line one here", "line two here"], id="lines"),
]


@pytest.mark.parametrize(("text", "expected"), SPLITS)
def test_split_spans(text: str, expected: list[str]) -> None:
    assert split_spans(text, CONFIG) == expected


def test_spans_are_capped() -> None:
    text = ". ".join(f"sentence number {i}" for i in range(100))
    assert len(split_spans(text, SpanConfig(heads=("x",), max_spans=5))) == 5


def _model(spans: SpanConfig) -> LinearModel:
    """A two-head model where only the word "trash" raises the score."""
    features = FeatureConfig(buckets_log2=12, char_max=0, char_min=9, word_ngrams=1)
    weights = np.zeros((features.buckets, 2), dtype=np.float32)
    [bucket] = featurize(["trash"], features).bucket.tolist()
    weights[bucket] = 4.0
    return LinearModel(
        heads=("harassment", "spam"),
        weights=weights,
        bias=np.zeros(2, dtype=np.float32),
        calibration=np.tile([1.0, 0.0], (2, 1)),
        features=features,
        spans=spans,
    )


def test_a_harmless_prefix_cannot_dilute_a_span_head() -> None:
    text = "what a great stream today, loved every minute of it. you are trash"
    plain = _model(SpanConfig()).logits([text, "you are trash"])
    spanned = _model(SpanConfig(heads=("harassment",))).logits([text, "you are trash"])
    # Without spans the prefix dilutes the insult; with them the message scores as its worst span.
    assert plain[0, 0] < plain[1, 0]
    assert spanned[0, 0] == pytest.approx(spanned[1, 0])
    # Heads not named keep the whole message's score.
    assert spanned[0, 1] == pytest.approx(plain[0, 1])


def test_span_heads_must_be_model_heads() -> None:
    from chatguard.classifier.model import ModelLoadError

    with pytest.raises(ModelLoadError, match="not model heads"):
        _model(SpanConfig(heads=("violence",)))
