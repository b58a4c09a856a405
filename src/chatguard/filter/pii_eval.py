"""Precision and recall of the PII detector per entity type, on rows labelled with character
spans (`{"text": ..., "spans": [{"type": "EMAIL_ADDRESS", "start": 0, "end": 9}, ...]}`, the
format of Presidio's synthetic evaluation set).

A found span counts as correct when it overlaps a labelled span of the same entity type; a
labelled span counts as found when a found span of its type overlaps it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatguard.filter.pii import ENTITIES, PiiDetector
from chatguard.normalize import normalize


@dataclass(frozen=True, slots=True)
class EntityScore:
    entity: str
    support: int  # labelled spans
    found: int  # spans the detector returned
    true_positives: int  # found spans that overlap a labelled one
    recalled: int  # labelled spans that a found one overlaps

    @property
    def precision(self) -> float:
        return self.true_positives / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.recalled / self.support if self.support else 1.0


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def evaluate(
    rows: Iterable[Mapping[str, Any]], detector: PiiDetector | None = None
) -> dict[str, EntityScore]:
    """Per-entity scores of `detector` on labelled rows."""
    detector = detector or PiiDetector()
    counts = {e: [0, 0, 0, 0] for e in ENTITIES}
    for row in rows:
        text = row["text"]
        normalized = normalize(text)
        found = detector.find(normalized.folded, normalized.original_span)
        gold = [(s["type"], (s["start"], s["end"])) for s in row.get("spans", [])]
        for entity in ENTITIES:
            gold_spans = [span for kind, span in gold if kind == entity]
            found_spans = [(s.start, s.end) for s in found if s.label == entity]
            counts[entity][0] += len(gold_spans)
            counts[entity][1] += len(found_spans)
            counts[entity][2] += sum(any(_overlaps(f, g) for g in gold_spans) for f in found_spans)
            counts[entity][3] += sum(any(_overlaps(g, f) for f in found_spans) for g in gold_spans)
    return {e: EntityScore(e, *c) for e, c in counts.items()}


def read_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
