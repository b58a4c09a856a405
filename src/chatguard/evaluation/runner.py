"""Run a configured pipeline over a labeled dataset and measure it.

A dataset is JSONL, one `{"text": str, "flagged": 0|1, "categories": {name: 0|1}}` per line;
`flagged` and `categories` are optional (`flagged` defaults to "any category is 1").
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chatguard.domain import Assessment, Message
from chatguard.errors import InvalidInputError
from chatguard.evaluation.metrics import average_precision, percentiles, scores_at
from chatguard.pipeline import Pipeline
from chatguard.service import STATELESS
from chatguard.taxonomy import OPENAI_CATEGORIES, Category, UnknownCategoryError, parse_category


@dataclass(frozen=True, slots=True)
class LabeledText:
    text: str
    flagged: int
    categories: dict[Category, int] = field(default_factory=dict)


def read_dataset(path: str | Path, *, limit: int | None = None) -> list[LabeledText]:
    """Read an evaluation JSONL file; a malformed line raises `InvalidInputError` naming it."""
    source = Path(path)
    records: list[LabeledText] = []
    try:
        handle = source.open(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read dataset {source}: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if limit is not None and len(records) >= limit:
                break
            if line.strip():
                records.append(_parse_line(line, f"{source}:{number}"))
    if not records:
        raise InvalidInputError(f"dataset {source} has no records")
    return records


def _parse_line(line: str, where: str) -> LabeledText:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
        raise InvalidInputError(f"{where}: needs a string field `text`")
    raw = row.get("categories") or {}
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{where}: `categories` must be an object of name: 0|1")
    categories: dict[Category, int] = {}
    for name, value in raw.items():
        try:
            categories[parse_category(str(name))] = _binary(value, f"{where}: categories.{name}")
        except UnknownCategoryError as exc:
            raise InvalidInputError(f"{where}: {exc}") from None
    if row.get("flagged") is None:
        flagged = int(any(categories.values()))
    else:
        flagged = _binary(row["flagged"], f"{where}: flagged")
    return LabeledText(row["text"], flagged, categories)


def _binary(value: Any, where: str) -> int:
    if isinstance(value, bool) or value in (0, 1):
        return int(value)
    raise InvalidInputError(f"{where} must be 0 or 1, got {value!r}")


@dataclass(slots=True)
class _Run:
    assessments: list[Assessment]
    latencies_ms: np.ndarray
    seconds: float


async def run_pipeline(pipeline: Pipeline, texts: Sequence[str], *, batch_size: int = 64) -> _Run:
    """Assess `texts` in batches; each message's latency is the wall time of its batch."""
    assessments: list[Assessment] = []
    latencies: list[float] = []
    started = time.perf_counter()
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        messages = [Message(text=t, user_id="evaluate", channel_id="evaluate") for t in chunk]
        batch_started = time.perf_counter()
        assessments.extend(await pipeline.assess(messages, context={STATELESS: True}))
        latencies.extend([(time.perf_counter() - batch_started) * 1000] * len(chunk))
    return _Run(assessments, np.array(latencies), time.perf_counter() - started)


def flagged_score(assessment: Assessment) -> float:
    """The continuous score behind "flagged": the highest OpenAI-category score."""
    return max((assessment.scores.get(c, 0.0) for c in OPENAI_CATEGORIES), default=0.0)


def report(records: Sequence[LabeledText], run: _Run, pipeline: Pipeline) -> dict[str, Any]:
    """The evaluation figures as one JSON-ready object."""
    n = len(records)
    assessments = run.assessments
    flagged_true = np.array([r.flagged for r in records])
    flagged_scores = np.array([flagged_score(a) for a in assessments])
    flagged_pred = np.array([a.flagged for a in assessments])
    # The flag threshold of the OpenAI categories the pipeline scores (one shared value when the
    # classifier's manifest set it; None when they differ).
    scored = {c for a in assessments for c in a.scores if c in OPENAI_CATEGORIES}
    flag_thresholds = {pipeline.router.thresholds.flag_at(c) for c in scored}
    binary = scores_at(flagged_true, flagged_pred, 0.0)
    out: dict[str, Any] = {
        "n": n,
        "stages": pipeline.stage_names,
        "flagged": {
            "auprc": _round(average_precision(flagged_true, flagged_scores)),
            "f1": round(binary.f1, 4),
            "precision": round(binary.precision, 4),
            "recall": round(binary.recall, 4),
            "threshold": flag_thresholds.pop() if len(flag_thresholds) == 1 else None,
            "n_pos": int(flagged_true.sum()),
        },
        "categories": _categories(records, assessments, pipeline),
        "escalation_rate": round(sum(a.escalated for a in assessments) / n, 4),
        "decided_by": {
            stage: round(count / n, 4)
            for stage, count in sorted(Counter(a.decided_by for a in assessments).items())
        },
        "latency_ms": {k: round(v, 3) for k, v in percentiles(run.latencies_ms).items()},
        "messages_per_second": round(n / run.seconds, 1) if run.seconds > 0 else None,
    }
    return out


def _categories(
    records: Sequence[LabeledText], assessments: Sequence[Assessment], pipeline: Pipeline
) -> dict[str, dict[str, Any]]:
    labeled = sorted({c for r in records for c in r.categories}, key=list(Category).index)
    out = {}
    for category in labeled:
        rows = [i for i, r in enumerate(records) if category in r.categories]
        truth = np.array([records[i].categories[category] for i in rows])
        scores = np.array([assessments[i].scores.get(category, 0.0) for i in rows])
        threshold = pipeline.router.thresholds.flag_at(category)
        binary = scores_at(truth, scores >= threshold, threshold)
        out[category.value] = {
            "auprc": _round(average_precision(truth, scores)),
            "f1": round(binary.f1, 4),
            "precision": round(binary.precision, 4),
            "recall": round(binary.recall, 4),
            "n_pos": int(truth.sum()),
            "n": len(rows),
        }
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
