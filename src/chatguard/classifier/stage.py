"""The classifier stage: the trained linear model scoring every category it covers, in batches."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from chatguard.classifier.model import LinearModel, ModelLoadError, category_scores
from chatguard.domain import StageResult
from chatguard.errors import ConfigurationError
from chatguard.pipeline.router import Thresholds
from chatguard.pipeline.stage import ComponentHealth, CpuStage, StageInput
from chatguard.taxonomy import Category

if TYPE_CHECKING:
    from chatguard.config import Settings

log = logging.getLogger(__name__)

_CATEGORY_NAMES = frozenset(c.value for c in Category)
#: The model that ships with chatguard (package data).
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "chatguard-linear-v2"


class ClassifierStage(CpuStage):
    """Scores every covered category with calibrated probabilities. Its low scores may clear a
    message (`can_clear`); the router escalates only the band its thresholds call uncertain."""

    name = "classifier"
    can_clear = True
    # Scoring takes ~20 µs a message: batches stay on the event loop up to a few thousand.
    offload_at = 2048

    def __init__(self, *, model: LinearModel, timeout_s: float = 1.0) -> None:
        super().__init__(timeout_s=timeout_s)
        self.model = model
        self._categories = [Category(h) for h in model.heads if h in _CATEGORY_NAMES]

    @classmethod
    def from_settings(cls, settings: Settings) -> ClassifierStage:
        path = getattr(settings, "classifier_model", None) or DEFAULT_MODEL
        try:
            model = LinearModel.load(path)
        except ModelLoadError as exc:
            raise ConfigurationError(f"CLASSIFIER_MODEL: {exc}") from None
        log.info("classifier model %s loaded from %s", model.name, path)
        return cls(model=model)

    @property
    def categories(self) -> list[Category]:
        """The categories this stage scores."""
        return list(self._categories)

    def thresholds(self) -> Thresholds:
        """The router thresholds the model's training chose on validation data."""
        allow, act, flag = {}, {}, {}
        for name, t in self.model.thresholds().items():
            if name not in _CATEGORY_NAMES:
                continue
            category = Category(name)
            allow[category], act[category], flag[category] = t.allow, t.act, t.flag
        return Thresholds(allow=allow, act=act, flag=flag)

    def assess_sync(self, items: Sequence[StageInput]) -> list[StageResult]:
        if not items:
            return []
        # Empty or blank text says nothing: every category scores 0 and the model does not run
        # (on no features it would answer with its bias, e.g. profanity 0.19).
        texts = [item.normalized.folded for item in items]
        scored = [i for i, text in enumerate(texts) if text.strip()]
        results = [self._empty() for _ in items]
        if not scored:
            return results
        started = time.perf_counter()
        probabilities = self.model.predict_proba([texts[i] for i in scored])
        columns = category_scores(self.model.heads, probabilities)
        categories = self._categories
        if not categories:
            return [StageResult(self.name) for _ in items]
        matrix = np.stack([columns[c.value] for c in categories], axis=1)
        tops = np.argmax(matrix, axis=1).tolist()
        per_message = (time.perf_counter() - started) * 1000 / len(scored)
        for index, row, top in zip(scored, matrix.tolist(), tops, strict=True):
            reason = f"classifier: {categories[top].value} {row[top]:.2f}"
            scores = dict(zip(categories, row, strict=True))
            results[index] = StageResult(self.name, scores, (), (reason,), per_message)
        return results

    def _empty(self) -> StageResult:
        return StageResult(
            self.name, dict.fromkeys(self._categories, 0.0), (), ("classifier: empty text",)
        )

    def health(self) -> ComponentHealth:
        return ComponentHealth(self.name, True, f"model {self.model.name}")
