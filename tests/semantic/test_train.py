"""Choosing the blend and caching embeddings, on small synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chatguard.classifier.data import Example
from chatguard.semantic.encoder import SentenceEncoder
from chatguard.semantic.train import SemanticTrainConfig, choose_blend, embed

N = 400


def examples(labels: np.ndarray, source: str = "jigsaw") -> list[Example]:
    return [Example(f"t{i}", f"t{i}", source, {"harassment": int(y)}) for i, y in enumerate(labels)]


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, N)
    noisy_linear = np.clip(labels * 0.3 + rng.random(N) * 0.7, 0, 1)
    return labels, noisy_linear


def test_a_semantic_score_that_ranks_better_gets_weight(data) -> None:  # type: ignore[no-untyped-def]
    labels, linear = data
    semantic = labels * 0.6 + 0.2
    blend, report = choose_blend(
        examples(labels),
        {"harassment": linear},
        {"harassment": semantic},
        np.ones(N, dtype=bool),
        SemanticTrainConfig(),
    )
    assert blend["harassment"] > 0
    row = report["harassment"]
    assert row["auprc_blend_uncertain"] > row["auprc_linear"]


def test_a_semantic_score_that_is_noise_is_left_out(data) -> None:  # type: ignore[no-untyped-def]
    labels, linear = data
    noise = np.random.default_rng(1).random(N)
    blend, report = choose_blend(
        examples(labels),
        {"harassment": linear},
        {"harassment": noise},
        np.ones(N, dtype=bool),
        SemanticTrainConfig(),
    )
    assert "harassment" not in blend
    assert report["harassment"]["weight"] == 0.0


def test_the_blend_may_not_cost_real_chat(data) -> None:  # type: ignore[no-untyped-def]
    labels, linear = data
    # Better on the general source, worse on the real-chat one: no weight.
    chat = np.arange(N) >= N // 2
    semantic = np.where(chat, 1 - labels * 0.9, labels * 0.9)
    rows = examples(labels[: N // 2]) + examples(labels[N // 2 :], source="twitch_chat")
    blend, _ = choose_blend(
        rows,
        {"harassment": linear},
        {"harassment": semantic},
        np.ones(N, dtype=bool),
        SemanticTrainConfig(),
    )
    assert "harassment" not in blend


def test_embeddings_come_from_the_cache_on_a_second_run(
    encoder: SentenceEncoder, tmp_path: Path
) -> None:
    cache = tmp_path / "cache.npz"
    texts = ["gg", "you are awful", "gg"]
    first = embed(encoder, texts, cache=cache)

    class Refusing:
        def encode(self, texts: list[str]) -> np.ndarray:
            raise AssertionError("the cache should have answered")

    second = embed(Refusing(), texts, cache=cache)  # type: ignore[arg-type]
    assert np.array_equal(first, second)
    assert np.array_equal(first[0], first[2])
