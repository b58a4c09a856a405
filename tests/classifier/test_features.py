"""The featurizer: deterministic, per-text, robust to stretched letters and spacing."""

from __future__ import annotations

import numpy as np
import pytest

from chatguard.classifier.features import FeatureConfig, embedded_words, featurize

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


MASKED = FeatureConfig(buckets_log2=16, mask_embedded=1)


def _char_and_word(text: str, config: FeatureConfig) -> tuple[set[int], set[int]]:
    batch = featurize([text], config)
    chars = {int(b) for _, bucket in batch.blocks[: batch.n_char_blocks] for b in bucket}
    words = {int(b) for _, bucket in batch.blocks[batch.n_char_blocks :] for b in bucket}
    return chars, words


@pytest.mark.parametrize("word", ["grape", "bitcoin", "scrap", "cocktail", "niggling"])
def test_an_embedded_word_gives_no_character_ngram(word: str) -> None:
    assert word in embedded_words()[0]
    chars, words = _char_and_word(word, MASKED)
    assert chars == set()
    assert words == _char_and_word(word, CONFIG)[1]  # its word features stay
    # Beside another word, only the n-grams that touch it go: those inside "soda" stay.
    chars_with, _ = _char_and_word(f"{word} soda", MASKED)
    inside_soda = _char_and_word("soda", CONFIG)[0] - _char_and_word(" ", CONFIG)[0]
    assert chars_with and chars_with <= _char_and_word("soda", CONFIG)[0]
    assert {b for b in inside_soda if b in _char_and_word("xsoda", CONFIG)[0]} <= chars_with


def test_masking_leaves_other_texts_alone() -> None:
    texts = ["you fucking noob", "gg wp", "this boss is trash", "", "rape"]
    plain, masked = featurize(texts, CONFIG), featurize(texts, MASKED)
    assert [b.tolist() for _, b in plain.blocks] == [b.tolist() for _, b in masked.blocks]
    assert np.array_equal(plain.scale, masked.scale)


def test_the_swear_word_itself_is_not_masked() -> None:
    for word in ("fuck", "shit", "bitch", "rape", "cum", "scum", "scumbag", "bitchy", "dumbass"):
        assert word not in embedded_words()[0], word
