"""The inference model: a linear layer over hashed n-grams, a calibration per head, numpy only.

An artifact is a directory with two files:

- `weights.npz`   `weights` (buckets x heads, float16), `bias` (heads), `calibration` (heads x 2:
                  Platt slope and intercept). Plain arrays, loaded with `allow_pickle=False`.
- `manifest.json` the heads, the feature configuration, the training data and counts, the date,
                  the metrics and the router thresholds chosen on validation; from format 2
                  also `word_heads` (heads read from word-level features only) and `spans`
                  (the heads that take the maximum over a message's spans).

Nothing is unpickled and no library version is pinned: any numpy reads the arrays and the
featurizer is this package's own code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chatguard.classifier.features import FeatureConfig, SparseBatch, embedded_words, featurize
from chatguard.classifier.spans import SpanConfig, span_batch
from chatguard.errors import ChatguardError
from chatguard.taxonomy import OPENAI_CATEGORIES

WEIGHTS_FILE = "weights.npz"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 2
#: Formats this version reads: 1 has neither word heads nor spans.
READABLE_FORMATS = (1, 2)
#: The head that scores "harmful in any OpenAI category", without saying which.
FLAGGED_HEAD = "flagged"


class ModelLoadError(ChatguardError):
    """A model artifact is missing, incomplete or of an unknown format."""


@dataclass(frozen=True, slots=True)
class HeadThresholds:
    """The router's thresholds for one head, chosen on validation data."""

    allow: float
    act: float
    flag: float


@dataclass(slots=True)
class LinearModel:
    """Multi-label logistic regression over hashed n-grams with Platt calibration per head."""

    heads: tuple[str, ...]
    weights: np.ndarray  # (buckets, heads) float32
    bias: np.ndarray  # (heads,) float32
    calibration: np.ndarray  # (heads, 2): probability = sigmoid(a * logit + b)
    features: FeatureConfig
    manifest: dict[str, Any] = field(default_factory=dict)
    #: Heads scored from word-level features only (whole words cannot match inside a word).
    word_heads: tuple[str, ...] = ()
    spans: SpanConfig = field(default_factory=SpanConfig)
    _word_columns: list[int] = field(init=False, repr=False, default_factory=list)
    _word_weights: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros(0))
    _span_columns: list[int] = field(init=False, repr=False, default_factory=list)

    def __post_init__(self) -> None:
        k = len(self.heads)
        unknown = (set(self.word_heads) | set(self.spans.heads)) - set(self.heads)
        if unknown:
            raise ModelLoadError(f"word or span heads {sorted(unknown)} are not model heads")
        # Column positions and the word heads' own weight columns, computed once: copying a
        # column of 2^18 weights per batch would cost more than scoring a small batch.
        self._word_columns = [self.heads.index(h) for h in self.word_heads]
        self._word_weights = np.ascontiguousarray(self.weights[:, self._word_columns])
        self._span_columns = [self.heads.index(h) for h in self.spans.heads]
        if self.weights.shape != (self.features.buckets, k):
            raise ModelLoadError(
                f"weights have shape {self.weights.shape}; expected ({self.features.buckets}, {k})"
            )
        if self.bias.shape != (k,) or self.calibration.shape != (k, 2):
            raise ModelLoadError("bias or calibration do not match the heads")

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", "unnamed"))

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Uncalibrated scores, (len(texts), heads): of the whole text and, for the span heads,
        the highest of the whole and each of its spans (less the span margin)."""
        whole = self.logits_of(featurize(texts, self.features))
        if not self.spans.enabled or not texts:
            return whole
        spans = span_batch(texts, self.spans)
        if not spans.texts:
            return whole
        columns = self._span_columns
        part = self.logits_of(featurize(spans.texts, self.features))[:, columns]
        part -= self.spans.margin
        best = whole[:, columns]
        np.maximum.at(best, np.asarray(spans.owner), part)
        whole[:, columns] = best
        return whole

    def logits_of(self, batch: SparseBatch) -> np.ndarray:
        """Uncalibrated scores of one featurized batch (no spans)."""
        sums = self._sums(batch, self.weights) * batch.scale[:, None]
        if self.word_heads:
            words = batch.words()
            sums[:, self._word_columns] = (
                self._sums(words, self._word_weights) * words.scale[:, None]
            )
        return sums + self.bias

    @staticmethod
    def _sums(batch: SparseBatch, weights: np.ndarray) -> np.ndarray:
        sums = np.zeros((batch.n_docs, weights.shape[1]), dtype=np.float32)
        doc_ids = np.arange(batch.n_docs)
        for doc, bucket in batch.blocks:
            # Each block is in text order, so a segment sum per text needs no sort.
            starts = np.searchsorted(doc, doc_ids)
            counts = np.diff(np.append(starts, doc.size))
            present = counts > 0
            sums[present] += np.add.reduceat(weights[bucket], starts[present], axis=0)
        return sums

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, (len(texts), heads)."""
        return self.calibrate(self.logits(texts))

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        a, b = self.calibration[:, 0], self.calibration[:, 1]
        return 1.0 / (1.0 + np.exp(-(logits * a + b)))

    def thresholds(self) -> dict[str, HeadThresholds]:
        raw = self.manifest.get("thresholds", {})
        return {
            name: HeadThresholds(float(t["allow"]), float(t["act"]), float(t["flag"]))
            for name, t in raw.items()
        }

    def save(self, directory: str | Path, manifest: Mapping[str, Any] | None = None) -> Path:
        """Write `weights.npz` and `manifest.json` into `directory` (created if needed)."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        if manifest is not None:
            self.manifest = dict(manifest)
        self.manifest.update(
            format=FORMAT_VERSION,
            heads=list(self.heads),
            features=self.features.to_dict(),
            word_heads=list(self.word_heads),
            spans=self.spans.to_dict(),
        )
        if self.features.mask_embedded:
            words, digest = embedded_words()
            self.manifest["embedded_words"] = {"words": len(words), "sha256": digest}
        np.savez_compressed(
            path / WEIGHTS_FILE,
            weights=self.weights.astype(np.float16),
            bias=self.bias.astype(np.float32),
            calibration=self.calibration.astype(np.float32),
        )
        (path / MANIFEST_FILE).write_text(
            json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        return path

    @classmethod
    def load(cls, directory: str | Path) -> LinearModel:
        """Load an artifact directory written by `save`; raises `ModelLoadError` if unusable."""
        path = Path(directory)
        try:
            manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
            with np.load(path / WEIGHTS_FILE, allow_pickle=False) as arrays:
                weights = arrays["weights"].astype(np.float32)
                bias = arrays["bias"].astype(np.float32)
                calibration = arrays["calibration"].astype(np.float64)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"cannot load the classifier model at {path}: {exc}") from exc
        if manifest.get("format") not in READABLE_FORMATS:
            raise ModelLoadError(
                f"model at {path} has format {manifest.get('format')!r}; "
                f"this version reads formats {', '.join(map(str, READABLE_FORMATS))}"
            )
        features = FeatureConfig.from_dict(manifest["features"])
        if features.mask_embedded:
            # The list shapes the features: a model runs only with the list it was trained on.
            recorded = manifest.get("embedded_words", {}).get("sha256")
            if recorded != embedded_words()[1]:
                raise ModelLoadError(
                    f"model at {path} was trained with another embedded-words list "
                    f"(sha256 {recorded}); retrain it"
                )
        return cls(
            heads=tuple(manifest["heads"]),
            weights=weights,
            bias=bias,
            calibration=calibration,
            features=features,
            manifest=manifest,
            word_heads=tuple(manifest.get("word_heads", ())),
            spans=SpanConfig.from_dict(manifest.get("spans")),
        )


def category_scores(heads: Sequence[str], probabilities: np.ndarray) -> dict[str, np.ndarray]:
    """Per-category scores from head probabilities.

    The `flagged` head, trained on every source that says "harmful or not", ranks harm best; the
    OpenAI category heads, each trained on the few sources that name it, say which kind. So the
    most likely OpenAI category scores the general probability P(flagged), and every other
    OpenAI category keeps its own score capped at P(flagged). "Flagged" (the maximum over the
    OpenAI categories) is then the general head's calibrated probability, and each category
    keeps its own head's ranking below it. Chat categories (profanity, spam, pii,
    prompt_injection) keep their own heads' scores.
    """
    openai = {c.value for c in OPENAI_CATEGORIES}
    scores = {name: probabilities[:, i] for i, name in enumerate(heads)}
    general = scores.pop(FLAGGED_HEAD, None)
    specific = [name for name in scores if name in openai]
    if general is not None and specific:
        top = np.argmax(np.stack([scores[n] for n in specific], axis=1), axis=1)
        for j, name in enumerate(specific):
            scores[name] = np.where(top == j, general, np.minimum(scores[name], general))
    return scores


def timed_load(directory: str | Path) -> tuple[LinearModel, float]:
    """Load a model and return it with the seconds it took."""
    started = time.perf_counter()
    model = LinearModel.load(directory)
    return model, time.perf_counter() - started
