"""The semantic stage: sentence embeddings and logistic heads on the messages still uncertain
after the linear classifier, blended into its scores per category.

In the cascade `filter -> classifier -> semantic -> llm`, the router settles every message the
classifier is sure of, so this stage sees the uncertain band, and also every long message
(`SemanticHeads.long_min_chars` characters or more) and every medium one
(`SemanticHeads.medium_min_chars` or more) when the heads have weights for them: the stage
reopens those (`reopens`) even where the classifier was sure. The weight `w` per category
depends on the message: the long weight for a long message, the medium weight for a medium one,
the uncertain-band weight for a shorter uncertain one (0 where validation showed the semantic
score does not pay).
The stage returns `max(other stages' score, (1 - w) * classifier + w * semantic)` for each
category with a weight and replaces the earlier scores with it (`authoritative`), so the blend
can lower a linear score as well as raise it; the router decides again on the result. Rule hits
from the filter stand: the maximum keeps them. The encoder runs in a worker thread under the
stage's timeout, and only on the messages with a weight.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from chatguard.domain import Route, StageResult
from chatguard.errors import ConfigurationError
from chatguard.pipeline.router import Router, Thresholds
from chatguard.pipeline.stage import ComponentHealth, CpuStage, StageInput
from chatguard.semantic.artifact import DEFAULT_ARTIFACT, SemanticArtifact, SemanticArtifactError
from chatguard.semantic.encoder import SentenceEncoder
from chatguard.semantic.heads import SemanticHeads
from chatguard.taxonomy import Category

if TYPE_CHECKING:
    from chatguard.config import Settings

log = logging.getLogger(__name__)

_CATEGORY_NAMES = frozenset(c.value for c in Category)
#: The stage whose scores the blend was chosen against.
LINEAR_STAGE = "classifier"


def _warn_if_stale(artifact: SemanticArtifact, classifier_model: str | None) -> None:
    """The blend was chosen against one linear model; say so when another one is configured."""
    from chatguard.classifier.stage import DEFAULT_MODEL

    chosen = artifact.manifest.get("heads", {}).get("linear_model", {})
    try:
        path = Path(classifier_model or DEFAULT_MODEL) / "manifest.json"
        current = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # the classifier stage reports its own model's problems
    pair = (current.get("name"), current.get("created"))
    if pair != (chosen.get("name"), chosen.get("created")):
        log.warning(
            "the semantic blend was chosen against linear model %s (%s), the classifier is %s "
            "(%s): re-run `chatguard train-semantic`",
            chosen.get("name"),
            chosen.get("created"),
            *pair,
        )


class SemanticStage(CpuStage):
    """Blends an embedding model's scores into the classifier's on the uncertain band."""

    name = "semantic"
    can_clear = True
    # Even one message costs milliseconds of encoder time: never on the event loop.
    offload_at = 1

    def __init__(
        self,
        *,
        encoder: SentenceEncoder,
        heads: SemanticHeads,
        artifact_name: str = "semantic",
        timeout_s: float = 2.0,
    ) -> None:
        super().__init__(timeout_s=timeout_s)
        self.encoder = encoder
        self.heads = heads
        self.artifact_name = artifact_name
        # Only the categories the heads score: a weight for any other would be a no-op.
        scored = set(heads.category_scores(np.zeros((1, heads.weights.shape[0]), np.float32)))
        self._blended = sorted(
            {
                Category(name)
                for blend in (heads.blend, heads.long_blend, heads.medium_blend)
                for name, weight in blend.items()
                if name in _CATEGORY_NAMES and name in scored and weight > 0
            },
            key=lambda c: c.value,
        )
        self._reopens = any(
            blend.get(c.value, 0.0) > 0
            for blend in (heads.long_blend, heads.medium_blend)
            for c in self._blended
        )
        self._router: Router | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SemanticStage:
        path = getattr(settings, "semantic_model", None) or DEFAULT_ARTIFACT
        try:
            artifact = SemanticArtifact.load(path)
            heads = SemanticHeads.load(artifact)
        except SemanticArtifactError as exc:
            raise ConfigurationError(f"SEMANTIC_MODEL: {exc}") from None
        if not getattr(settings, "semantic_medium", True):
            # Long messages and the uncertain band only: on live chat the medium bucket is
            # most of what the encoder reads.
            heads = dataclasses.replace(heads, medium_blend={}, medium_min_chars=0)
        encoder = SentenceEncoder.from_artifact(
            artifact, threads=getattr(settings, "semantic_threads", 1)
        )
        log.info("semantic artifact %s loaded from %s", artifact.name, path)
        _warn_if_stale(artifact, getattr(settings, "classifier_model", None))
        return cls(
            encoder=encoder,
            heads=heads,
            artifact_name=artifact.name,
            timeout_s=getattr(settings, "semantic_timeout_s", 2.0),
        )

    @property
    def categories(self) -> list[Category]:
        """The categories whose scores this stage blends (on some messages)."""
        return list(self._blended)

    def use_thresholds(self, thresholds: Thresholds) -> None:
        self._router = Router(thresholds)

    def reopens(self, item: StageInput) -> bool:
        """A long or medium-length message is blended whatever the classifier's certainty."""
        if not self._reopens:
            return False
        chars = len(item.normalized.folded)
        return self.heads.is_long(chars) or self.heads.is_medium(chars)

    def _uncertain(self, item: StageInput) -> bool:
        """Did the stages before leave `item` uncertain? Outside a pipeline (no thresholds
        given) every message is taken to be: the cascade sends only those and long ones."""
        if self._router is None:
            return True
        return self._router.route(item.scores, can_clear=True) is Route.UNCERTAIN

    def _weights(self, item: StageInput) -> list[tuple[Category, float]]:
        weights = self.heads.weights_for(
            len(item.normalized.folded), uncertain=self._uncertain(item)
        )
        return [(c, weights[c.value]) for c in self._blended if c.value in weights]

    def assess_sync(self, items: Sequence[StageInput]) -> list[StageResult]:
        if not items or not self._blended:
            return [StageResult(self.name) for _ in items]
        weights = [self._weights(item) for item in items]
        todo = [i for i, w in enumerate(weights) if w]
        results = [StageResult(self.name) for _ in items]
        if not todo:
            return results
        started = time.perf_counter()
        embeddings = self.encoder.encode([items[i].normalized.folded for i in todo])
        semantic = self.heads.category_scores(embeddings)
        per_message = (time.perf_counter() - started) * 1000 / len(todo)
        for row, i in enumerate(todo):
            found = {c: float(semantic[c.value][row]) for c, _ in weights[i]}
            results[i] = self._result(items[i], weights[i], found, per_message)
        return results

    def _result(
        self,
        item: StageInput,
        weights: list[tuple[Category, float]],
        semantic: dict[Category, float],
        latency_ms: float,
    ) -> StageResult:
        linear: dict[Category, float] = {}
        others: dict[Category, float] = {}
        for result in item.results:
            if result.error is not None:
                continue
            target = linear if result.stage == LINEAR_STAGE else others
            for category, score in result.scores.items():
                if score > target.get(category, 0.0):
                    target[category] = score
        scores = {}
        moved: tuple[Category, float] | None = None
        for category, weight in weights:
            base = linear.get(category, item.scores.get(category, 0.0))
            mixed = (1.0 - weight) * base + weight * semantic[category]
            scores[category] = max(others.get(category, 0.0), mixed)
            if moved is None or abs(mixed - base) > abs(moved[1]):
                moved = (category, mixed - base)
        reasons: tuple[str, ...] = ()
        if moved is not None:
            category, delta = moved
            reasons = (f"semantic: {category.value} {scores[category]:.2f} ({delta:+.2f})",)
        return StageResult(self.name, scores, (), reasons, latency_ms, authoritative=True)

    def health(self) -> ComponentHealth:
        return ComponentHealth(self.name, True, f"model {self.artifact_name}")
