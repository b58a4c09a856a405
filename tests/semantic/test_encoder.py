"""Sentence embeddings: unit length, deterministic, in input order, meaning-aware."""

from __future__ import annotations

import numpy as np

from chatguard.semantic.encoder import DIMENSIONS, SentenceEncoder

TEXTS = [
    "gg wp",
    "i want to kill myself tonight, i can't do this anymore",
    "you are a worthless idiot and everyone hates you",
    "what a lovely sunny day for a picnic in the park with friends and family",
]


def test_embeddings_are_unit_vectors_in_input_order(encoder: SentenceEncoder) -> None:
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    # Dynamic int8 scales activations per batch: alone, a text's embedding is close to, not
    # identical with, its embedding among others.
    alone = encoder.encode([TEXTS[2]])[0]
    assert float(alone @ vectors[2]) > 0.97


def test_embeddings_are_deterministic(encoder: SentenceEncoder) -> None:
    first = encoder.encode(TEXTS)
    second = encoder.encode(TEXTS)
    assert np.array_equal(first, second)


def test_no_texts_give_an_empty_matrix(encoder: SentenceEncoder) -> None:
    assert encoder.encode([]).shape == (0, DIMENSIONS)


def test_paraphrases_are_closer_than_unrelated_texts(encoder: SentenceEncoder) -> None:
    a, b, c = encoder.encode(
        [
            "i am going to end my life tonight",
            "tonight i will kill myself",
            "the new patch nerfed my favourite hero",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_long_texts_are_truncated_to_the_token_limit(encoder: SentenceEncoder) -> None:
    long = "word " * 5000
    vector = encoder.encode([long])
    assert vector.shape == (1, DIMENSIONS)
    assert np.isfinite(vector).all()


def test_batches_keep_lengths_alike(encoder: SentenceEncoder) -> None:
    lengths = [3, 3, 4, 5, 10, 12, 19, 30, 35, 49]
    batches = encoder._batches(list(range(len(lengths))), lengths)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert batches[0] == [0, 1, 2, 3, 4, 5]  # up to 16 tokens share a batch
    for batch in batches:
        widths = [lengths[i] for i in batch]
        assert max(widths) <= max(16, 1.5 * min(widths))
