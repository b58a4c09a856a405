"""Choosing the blend and caching embeddings, on small synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chatguard.classifier.data import Example
from chatguard.semantic.encoder import SentenceEncoder
from chatguard.semantic.train import (
    SemanticTrainConfig,
    blended_scores,
    choose_blend,
    choose_flagged_floor,
    embed,
)

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


def test_long_rows_take_the_long_weights_and_short_sure_rows_keep_the_linear_score() -> None:
    linear = {"harassment": np.array([0.2, 0.2, 0.2, 0.2])}
    semantic = {"harassment": np.array([1.0, 1.0, 1.0, 1.0])}
    uncertain = np.array([True, False, True, False])
    long = np.array([False, False, True, True])
    scores = blended_scores(
        linear, semantic, uncertain, {"harassment": 0.5}, long, {"harassment": 0.25}
    )
    assert scores["harassment"].tolist() == pytest.approx([0.6, 0.2, 0.4, 0.4])


def test_medium_rows_take_the_medium_weights_sure_or_not() -> None:
    linear = {"harassment": np.array([0.2, 0.2, 0.2, 0.2, 0.2])}
    semantic = {"harassment": np.array([1.0, 1.0, 1.0, 1.0, 1.0])}
    uncertain = np.array([True, False, True, False, True])
    long = np.array([False, False, False, False, True])
    medium = np.array([False, False, True, True, True])
    scores = blended_scores(
        linear,
        semantic,
        uncertain,
        {"harassment": 0.5},
        long,
        {"harassment": 0.25},
        medium,
        {"harassment": 0.1},
    )
    # band, short and sure, medium unsure, medium sure, long (long wins over medium).
    assert scores["harassment"].tolist() == pytest.approx([0.6, 0.2, 0.28, 0.28, 0.4])


def flagged_rows(labels: np.ndarray, source: str) -> list[Example]:
    return [
        Example(f"{source}{i}", f"{source}{i}", source, {"flagged": int(y)})
        for i, y in enumerate(labels)
    ]


def floor_case(chat_semantic_good: bool) -> tuple[dict[str, float], dict[str, object]]:
    """Prompts whose harm the linear model ranks badly and the encoder well, beside chat."""
    rng = np.random.default_rng(2)
    y_prompts, y_chat = rng.integers(0, 2, N), rng.integers(0, 2, N)
    rows = flagged_rows(y_prompts, "toxicchat") + flagged_rows(y_chat, "conda_dota2_chat")
    y = np.concatenate([y_prompts, y_chat])
    prompts = np.arange(2 * N) < N
    linear_flagged = np.where(prompts, rng.random(2 * N), y * 0.4 + rng.random(2 * N) * 0.6)
    semantic_good = y * 0.7 + rng.random(2 * N) * 0.3
    semantic_flagged = np.where(prompts | chat_semantic_good, semantic_good, 1.0 - y)
    linear = {"harassment": linear_flagged}
    semantic = {"harassment": semantic_flagged}
    everything = np.ones(2 * N, dtype=bool)

    def scorer(long_blend: dict[str, float]) -> dict[str, np.ndarray]:
        return blended_scores(linear, semantic, ~everything, {}, everything, long_blend)

    return choose_flagged_floor(rows, linear, scorer, {}, SemanticTrainConfig())


def test_a_floor_that_lifts_flagged_on_prose_is_kept() -> None:
    chosen, report = floor_case(chat_semantic_good=True)
    assert chosen["harassment"] > 0 and report["floor"] == chosen["harassment"]
    assert report["mean_flagged_by_source"] > report["mean_flagged_by_source_linear"]


def test_a_floor_that_costs_real_chat_is_refused() -> None:
    chosen, report = floor_case(chat_semantic_good=False)
    assert chosen == {} and report["floor"] == 0.0
