"""The featurizer: deterministic, per-text, robust to stretched letters and spacing."""

from __future__ import annotations

import numpy as np
import pytest

from chatguard.classifier.features import FeatureConfig, featurize

CONFIG = FeatureConfig(buckets_log2=16)


def _features(text: str) -> list[tuple[int, float]]:
    batch = featurize([text], CONFIG)
    return sorted(zip(batch.bucket.tolist(), batch.value.tolist(), strict=True))


def test_same_text_same_features_across_calls() -> None:
    assert _features("you are the worst") == _features("you are the worst")


def test_texts_in_one_batch_are_featurized_as_if_alone() -> None:
    texts = ["hello there", "", "go away you troll", "a"]
    batch = featurize(texts, CONFIG)
    for index, text in enumerate(texts):
        mine = batch.doc == index
        together = sorted(zip(batch.bucket[mine].tolist(), batch.value[mine].tolist(), strict=True))
        assert together == _features(text), text


def test_blocks_are_in_text_order() -> None:
    batch = featurize(["one two", "three", "four five six"], CONFIG)
    for doc, _ in batch.blocks:
        assert np.all(np.diff(doc) >= 0)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("you are soooooo dumb", "you are soo dumb"),
        ("you   are\tdumb", "you are dumb"),
    ],
    ids=["stretched-letters", "whitespace-runs"],
)
def test_evasions_share_features(a: str, b: str) -> None:
    assert _features(a) == _features(b)


def test_different_texts_differ() -> None:
    assert _features("have a nice day") != _features("have a nice dad")


def test_features_are_scaled_to_unit_length_per_text() -> None:
    batch = featurize(["short", "a much longer message with many more n-grams in it"], CONFIG)
    for index in range(2):
        values = batch.value[batch.doc == index]
        assert np.sum(values**2) == pytest.approx(1.0, rel=1e-5)


def test_empty_batch() -> None:
    batch = featurize([], CONFIG)
    assert batch.n_docs == 0 and batch.doc.size == 0


def test_buckets_stay_in_range() -> None:
    batch = featurize(["ünïcödé 😀 text", "x" * 5000], CONFIG)
    assert batch.bucket.min() >= 0 and batch.bucket.max() < CONFIG.buckets


def test_config_round_trips_through_the_manifest() -> None:
    config = FeatureConfig(buckets_log2=12, char_max=4)
    assert FeatureConfig.from_dict(config.to_dict()) == config
