"""Logistic heads over sentence embeddings, their calibration and the blend with the linear model.

Stored as `heads.npz` (plain arrays: `weights` 384 x heads, `bias`, `calibration` heads x 2,
read with `allow_pickle=False`) with the head names and blend weights in the manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chatguard.classifier.model import category_scores
from chatguard.semantic.artifact import SemanticArtifact, SemanticArtifactError


@dataclass(slots=True)
class SemanticHeads:
    """One calibrated logistic head per target, and how much each category trusts them.

    `blend[c]` is the weight of the semantic score in category `c` on the messages the linear
    model leaves uncertain: the blended score is `(1 - w) * linear + w * semantic`. A category
    absent from `blend` (or at 0) is left to the linear model there: the semantic tier is kept
    only where validation showed it pays.

    `long_blend[c]` is the weight for every message of at least `long_min_chars` characters
    (its normalized text), sure or not: prose and prompts, where the encoder reads meaning the
    n-grams miss, and a small share of live chat, so the encoder's cost stays bounded. Such a
    message takes its long weight in every category, 0 where `long_blend` has none. With
    `long_min_chars` 0 there is no long bucket.

    `medium_blend[c]` is the weight for every shorter message of at least `medium_min_chars`
    characters, sure or not: prompts and questions that fall short of the long bucket. Such a
    message takes its medium weight in every category (0 where `medium_blend` has none). With
    `medium_min_chars` 0 or no weights there is no medium bucket.
    """

    heads: tuple[str, ...]
    weights: np.ndarray  # (384, heads) float32
    bias: np.ndarray  # (heads,) float32
    calibration: np.ndarray  # (heads, 2): probability = sigmoid(a * logit + b)
    blend: dict[str, float] = field(default_factory=dict)
    long_blend: dict[str, float] = field(default_factory=dict)
    long_min_chars: int = 0
    medium_blend: dict[str, float] = field(default_factory=dict)
    medium_min_chars: int = 0

    def is_long(self, chars: int) -> bool:
        """Does a message of `chars` normalized characters take the long weights?"""
        return self.long_min_chars > 0 and chars >= self.long_min_chars

    def is_medium(self, chars: int) -> bool:
        """Does a message of `chars` normalized characters take the medium weights?"""
        # Asked for every message: the length first, the weights only for medium ones.
        return (
            0 < self.medium_min_chars <= chars
            and not self.is_long(chars)
            and any(v > 0 for v in self.medium_blend.values())
        )

    def weights_for(self, chars: int, *, uncertain: bool) -> dict[str, float]:
        """The blend weight per category for one message (categories at 0 left out)."""
        if self.is_long(chars):
            return {k: v for k, v in self.long_blend.items() if v > 0}
        if self.is_medium(chars):
            return {k: v for k, v in self.medium_blend.items() if v > 0}
        if uncertain:
            return {k: v for k, v in self.blend.items() if v > 0}
        return {}

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """Calibrated head probabilities, (n, heads)."""
        logits = embeddings @ self.weights + self.bias
        a, b = self.calibration[:, 0], self.calibration[:, 1]
        return 1.0 / (1.0 + np.exp(-(logits * a + b)))

    def category_scores(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        """Per-category scores, combined from the heads as the linear model's are."""
        return category_scores(self.heads, self.probabilities(embeddings))

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            weights=self.weights.astype(np.float32),
            bias=self.bias.astype(np.float32),
            calibration=self.calibration.astype(np.float32),
        )

    @classmethod
    def load(cls, artifact: SemanticArtifact) -> SemanticHeads:
        """The heads of a verified artifact; raises `SemanticArtifactError` if it has none."""
        path = artifact.heads_path
        if path is None:
            raise SemanticArtifactError(
                f"semantic artifact at {artifact.path} has no trained heads; "
                "run `chatguard train-semantic`"
            )
        entry = artifact.manifest["heads"]
        try:
            with np.load(path, allow_pickle=False) as arrays:
                weights = arrays["weights"].astype(np.float32)
                bias = arrays["bias"].astype(np.float32)
                calibration = arrays["calibration"].astype(np.float64)
        except (OSError, ValueError, KeyError) as exc:
            raise SemanticArtifactError(f"cannot load the semantic heads: {exc}") from None
        names = tuple(str(n) for n in entry["names"])
        if weights.shape[1] != len(names) or bias.shape != (len(names),):
            raise SemanticArtifactError("semantic heads do not match their names")
        blend: Mapping[str, float] = entry.get("blend", {})
        long: Mapping[str, Any] = entry.get("blend_long", {})
        medium: Mapping[str, Any] = entry.get("blend_medium", {})
        return cls(
            names,
            weights,
            bias,
            calibration,
            {k: float(v) for k, v in blend.items()},
            {k: float(v) for k, v in long.get("weights", {}).items()},
            int(long.get("min_chars", 0)),
            {k: float(v) for k, v in medium.get("weights", {}).items()},
            int(medium.get("min_chars", 0)),
        )
