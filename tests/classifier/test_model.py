"""The shipped model: loads fast without unpickling, fits in the repository, moderates."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from chatguard.classifier.features import FeatureConfig, embedded_words
from chatguard.classifier.model import (
    MANIFEST_FILE,
    WEIGHTS_FILE,
    LinearModel,
    ModelLoadError,
    category_scores,
    timed_load,
)
from chatguard.classifier.stage import DEFAULT_MODEL
from chatguard.config import load_settings
from chatguard.domain import Message
from chatguard.service import ModerationService


def test_shipped_model_loads_in_under_two_seconds() -> None:
    model, seconds = timed_load(DEFAULT_MODEL)
    assert seconds < 2.0
    assert "harassment" in model.heads


def test_shipped_model_fits_in_the_repository() -> None:
    size = sum(p.stat().st_size for p in DEFAULT_MODEL.iterdir())
    assert size <= 25 * 1024 * 1024


def test_shipped_model_is_package_data() -> None:
    # Inside src/chatguard, so the wheel (packages = ["src/chatguard"]) carries it.
    assert (
        Path("src/chatguard/models") in DEFAULT_MODEL.relative_to(DEFAULT_MODEL.parents[3]).parents
    )


def test_manifest_describes_the_training() -> None:
    manifest = json.loads((DEFAULT_MODEL / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert {"name", "created", "training", "metrics", "thresholds", "features"} <= set(manifest)
    assert manifest["training"]["files"]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    config = FeatureConfig(buckets_log2=10)
    rng = np.random.default_rng(0)
    model = LinearModel(
        heads=("flagged", "harassment"),
        weights=rng.normal(size=(config.buckets, 2)).astype(np.float32),
        bias=np.array([0.1, -0.2], dtype=np.float32),
        calibration=np.array([[1.0, 0.0], [0.5, 0.1]]),
        features=config,
    )
    model.save(tmp_path, {"name": "tiny", "thresholds": {}})
    loaded = LinearModel.load(tmp_path)
    texts = ["hello", "you clown"]
    # float16 storage: equal to the saved precision.
    assert np.allclose(loaded.predict_proba(texts), model.predict_proba(texts), atol=5e-3)


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ({}, "cannot load"),
        ({MANIFEST_FILE: '{"format": 99, "heads": [], "features": {}}'}, "cannot load"),
    ],
    ids=["empty-directory", "no-weights"],
)
def test_unusable_artifact_is_a_named_error(tmp_path: Path, files: dict, match: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ModelLoadError, match=match):
        LinearModel.load(tmp_path)


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    model = LinearModel.load(DEFAULT_MODEL)
    model.save(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["format"] = 99
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="format 99"):
        LinearModel.load(tmp_path)
    assert (tmp_path / WEIGHTS_FILE).exists()


def test_a_model_runs_only_with_the_embedded_words_it_was_trained_on(tmp_path: Path) -> None:
    model = LinearModel.load(DEFAULT_MODEL)
    assert model.features.mask_embedded == 1
    assert model.manifest["embedded_words"]["sha256"] == embedded_words()[1]
    model.save(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["embedded_words"]["sha256"] = "0" * 64
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="another embedded-words list"):
        LinearModel.load(tmp_path)


def test_category_scores_give_the_general_probability_to_the_top_category() -> None:
    heads = ("flagged", "harassment", "hate", "spam")
    probabilities = np.array([[0.9, 0.3, 0.1, 0.2], [0.05, 0.6, 0.2, 0.7]])
    scores = category_scores(heads, probabilities)
    # Top category -> P(flagged); the others keep their own score, capped at P(flagged).
    assert scores["harassment"].tolist() == [0.9, 0.05]
    assert scores["hate"].tolist() == [0.1, 0.05]
    # Chat categories are left alone.
    assert scores["spam"].tolist() == [0.2, 0.7]


@pytest.mark.parametrize(
    ("text", "approved", "flagged", "top"),
    [
        (
            "You are the worst human being, you make me sick to my stomach.",
            False,
            True,
            "harassment",
        ),
        ("Hello everyone, how are you doing today?", True, False, None),
        # Harassment 0.76: the default policy's medium severity (0.75) holds it.
        ("you make me sick to my stomach, nobody would miss you", False, True, "harassment"),
        ("gg wp everyone, that was a fun match", True, False, None),
    ],
    ids=["insult", "greeting", "veiled-insult", "game-chat"],
)
def test_default_service_with_the_shipped_model(
    text: str, approved: bool, flagged: bool, top: str | None
) -> None:
    service = ModerationService.from_settings(load_settings(), with_store=False)

    async def moderate() -> dict:
        await service.start()
        try:
            return (
                await service.moderate(Message(text=text, user_id="u", channel_id="c"))
            ).response
        finally:
            await service.close()

    response = asyncio.run(moderate())
    assert response["approved"] is approved
    assert response["flagged"] is flagged
    if top is not None:
        assert max(response["category_scores"], key=response["category_scores"].get) == top
