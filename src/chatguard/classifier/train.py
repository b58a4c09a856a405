"""Training: labeled files -> mapped examples -> one logistic regression per head -> Platt
calibration and router thresholds on validation -> an artifact with its manifest.

Training uses scikit-learn (the `train` extra); the artifact it writes needs numpy only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import numpy as np

from chatguard.classifier.calibration import ThresholdPolicy, choose_thresholds, fit_platt
from chatguard.classifier.data import (
    Example,
    Split,
    SplitPlan,
    eval_record,
    load_examples,
    synthetic_examples,
)
from chatguard.classifier.derived import RULES
from chatguard.classifier.features import FeatureConfig, featurize
from chatguard.classifier.model import FLAGGED_HEAD, LinearModel, category_scores
from chatguard.classifier.spans import SpanConfig
from chatguard.classifier.synthetic import GENERATORS
from chatguard.errors import ConfigurationError
from chatguard.evaluation.metrics import average_precision, best_f1
from chatguard.taxonomy import OPENAI_CATEGORIES, Category

T = TypeVar("T")
#: Sources whose messages are real chat traffic: the uncertain band is sized on them.
TRAFFIC_SOURCES = ("twitch_chat", "dota2_chat", "conda_dota2_chat")
#: Head order in the artifact: the general head, then the taxonomy's order.
HEAD_ORDER = (FLAGGED_HEAD, *(c.value for c in Category))
#: Heads read from whole words only: swear words inside ordinary words ("cocktail", "classic",
#: "Shital") must not count.
WORD_HEADS = ("profanity",)
#: Heads that take the highest score of a message and its spans: the abusive ones. Spam and
#: prompt injection are judged on the whole message.
SPAN_HEADS = tuple(
    h for h in HEAD_ORDER if h not in ("spam", "pii", "prompt_injection")
)  # fmt: skip
#: Heads not trained: PII is found by the filter's detectors, whose spans say where it is.
EXCLUDED_HEADS = ("pii",)
_CHUNK = 4096


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything that shapes a trained model; recorded in its manifest."""

    name: str = "chatguard-linear"
    features: FeatureConfig = field(
        default_factory=lambda: FeatureConfig(target_cross=1, self_cross=2, mask_embedded=1)
    )
    word_heads: tuple[str, ...] = WORD_HEADS
    span_heads: tuple[str, ...] = SPAN_HEADS
    #: Logit taken off a span's score before the maximum. 0: a message scores as its worst
    #: span, so "<greeting>. you are a worthless piece of trash" scores as the insult alone. On
    #: the validation split a margin of 0.5 to 1.5 flagged fewer long clean texts (15% to 13%
    #: against 20%; 11% with the whole message alone) but let such prefixed insults fall below
    #: the policies' severity thresholds.
    span_margin: float = 0.0
    excluded_heads: tuple[str, ...] = EXCLUDED_HEADS
    #: Template-written sources (`synthetic.GENERATORS`) added to the files.
    synthetic: tuple[str, ...] = tuple(sorted(GENERATORS))
    c: float = 4.0
    min_positives: int = 20
    plan: SplitPlan = field(default_factory=SplitPlan)
    policy: ThresholdPolicy = field(default_factory=ThresholdPolicy)
    traffic_sources: tuple[str, ...] = TRAFFIC_SOURCES
    jobs: int = 2


class Progress:
    """A minimal progress bar on a terminal (stderr); silent when `stream` is None."""

    def __init__(self, stream: TextIO | None = sys.stderr) -> None:
        self.stream = stream

    def note(self, text: str) -> None:
        if self.stream is not None:
            print(text, file=self.stream, flush=True)

    def iterate(self, items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
        """Yield `items`, drawing a bar as each one is done."""
        started = time.perf_counter()
        if total is None:
            items = list(items)
            total = len(items)
        for index, item in enumerate(items, 1):
            yield item
            self._draw(label, index, total, started)
        if self.stream is not None and total:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, label: str, done: int, total: int, started: float) -> None:
        if self.stream is None or (done < total and not self.stream.isatty()):
            return
        width = 24
        filled = int(width * done / max(total, 1))
        elapsed = time.perf_counter() - started
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r{label:<22} [{bar}] {done}/{total} {elapsed:6.1f}s")
        self.stream.flush()


@dataclass(slots=True)
class TrainResult:
    model: LinearModel
    examples: list[Example]
    seconds: float


def train(
    files: Sequence[Path],
    mappings: dict[str, Any],
    config: TrainConfig | None = None,
    *,
    progress: Progress | None = None,
) -> TrainResult:
    """Train a model on `files` mapped through `mappings`."""
    config = config or TrainConfig()
    progress = progress or Progress(None)
    started = time.perf_counter()
    examples: list[Example] = []
    for path in progress.iterate(list(files), "reading data"):
        examples.extend(load_examples([path], mappings, plan=config.plan))
    examples.extend(synthetic_examples(config.synthetic, plan=config.plan))
    training = [e for e in examples if e.split is Split.TRAIN]
    validation = [e for e in examples if e.split is Split.VALIDATION]
    heads = [h for h in _heads(training, config.min_positives) if h not in config.excluded_heads]
    if not heads:
        raise ConfigurationError(
            f"no target has {config.min_positives} positive training examples; "
            "add data or lower --min-positives"
        )
    progress.note(
        f"{len(examples)} examples ({len(training)} train, {len(validation)} validation, "
        f"{len(examples) - len(training) - len(validation)} held out); heads: {', '.join(heads)}"
    )
    x_train, x_words = _matrix(training, config.features, progress, "featurizing train")
    weights, bias = _fit_heads(training, (x_train, x_words), heads, config, progress)
    model = LinearModel(
        heads=tuple(heads),
        weights=weights,
        bias=bias,
        calibration=np.tile([1.0, 0.0], (len(heads), 1)),
        features=config.features,
        word_heads=tuple(h for h in config.word_heads if h in heads),
        spans=SpanConfig(
            heads=tuple(h for h in config.span_heads if h in heads), margin=config.span_margin
        ),
    )
    seconds = time.perf_counter() - started
    calibrate(model, examples, config, files=files, fit_seconds=seconds)
    return TrainResult(model, examples, time.perf_counter() - started)


def calibrate(
    model: LinearModel,
    examples: Sequence[Example],
    config: TrainConfig,
    *,
    files: Sequence[Path] = (),
    fit_seconds: float = 0.0,
) -> None:
    """Fit each head's Platt scaling on the validation split, choose the router thresholds and
    write the manifest. The uncertain band is sized on the real-chat rows of the validation
    split (their texts; training rows would score too confidently)."""
    validation = [e for e in examples if e.split is Split.VALIDATION]
    val_logits = _logits(model, validation)
    for i, head in enumerate(model.heads):
        rows = [j for j, e in enumerate(validation) if head in e.targets]
        labels = np.array([validation[j].targets[head] for j in rows])
        w = np.array([validation[j].weight for j in rows])
        model.calibration[i] = fit_platt(val_logits[rows, i], labels, w)
    probabilities = model.calibrate(val_logits)
    val_scores = category_scores(model.heads, probabilities)
    val_scores[FLAGGED_HEAD] = _flagged_scores(model.heads, probabilities)
    pairs = _labeled(validation, val_scores)
    traffic = {}
    for source in config.traffic_sources:
        chat = [e for e in validation if e.source == source]
        if chat:
            traffic[source] = category_scores(model.heads, model.calibrate(_logits(model, chat)))
    thresholds = choose_thresholds(
        {k: v for k, v in pairs.items() if k != FLAGGED_HEAD},
        traffic,
        openai=frozenset(c.value for c in OPENAI_CATEGORIES),
        policy=config.policy,
    )
    model.manifest = _manifest(config, files, examples, model.heads, pairs, thresholds, fit_seconds)


def _heads(training: Sequence[Example], min_positives: int) -> list[str]:
    positives: Counter[str] = Counter()
    negatives: Counter[str] = Counter()
    for example in training:
        for target, value in example.targets.items():
            (positives if value else negatives)[target] += 1
    return [
        h for h in HEAD_ORDER if positives[h] >= min_positives and negatives[h] >= min_positives
    ]


def _matrix(
    examples: Sequence[Example], features: FeatureConfig, progress: Progress, label: str
) -> tuple[Any, Any]:
    """The feature matrix of `examples`, and the matrix of their word-level features alone."""
    from scipy import sparse

    chunks: list[Any] = []
    word_chunks: list[Any] = []
    starts = list(range(0, len(examples), _CHUNK))
    for start in progress.iterate(starts, label):
        batch = featurize([e.folded for e in examples[start : start + _CHUNK]], features)
        for part, out in ((batch, chunks), (batch.words(), word_chunks)):
            out.append(
                sparse.csr_matrix(
                    (part.value, (part.doc, part.bucket)),
                    shape=(part.n_docs, features.buckets),
                    dtype=np.float64,
                )
            )
    return sparse.vstack(chunks, format="csr"), sparse.vstack(word_chunks, format="csr")


def _fit_heads(
    training: Sequence[Example],
    matrices: tuple[Any, Any],
    heads: Sequence[str],
    config: TrainConfig,
    progress: Progress,
) -> tuple[np.ndarray, np.ndarray]:
    from joblib import Parallel, delayed

    jobs = []
    for head in heads:
        rows = np.array([i for i, e in enumerate(training) if head in e.targets])
        labels = np.array([training[i].targets[head] for i in rows])
        sample_weight = np.array([training[i].weight for i in rows])
        x = matrices[1] if head in config.word_heads else matrices[0]
        jobs.append((x, rows, labels, sample_weight))
    # Heads finish in order; the bar moves as each is fitted.
    fitted = list(
        progress.iterate(
            Parallel(n_jobs=config.jobs, prefer="processes", return_as="generator")(
                delayed(_fit_one)(x[rows], labels, w, config.c) for x, rows, labels, w in jobs
            ),
            "fitting heads",
            total=len(jobs),
        )
    )
    weights = np.stack([coef for coef, _ in fitted], axis=1).astype(np.float32)
    bias = np.array([b for _, b in fitted], dtype=np.float32)
    return weights, bias


def _fit_one(x: Any, labels: np.ndarray, weights: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, solver="liblinear", max_iter=200)
    model.fit(x, labels, sample_weight=weights)
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


def _logits(model: LinearModel, examples: Sequence[Example]) -> np.ndarray:
    out = [
        model.logits([e.folded for e in examples[s : s + _CHUNK]])
        for s in range(0, len(examples), _CHUNK)
    ]
    return np.concatenate(out) if out else np.zeros((0, len(model.heads)))


def _flagged_scores(heads: Sequence[str], probabilities: np.ndarray) -> np.ndarray:
    """The score `evaluate` uses for "flagged": the maximum over OpenAI categories."""
    scores = category_scores(heads, probabilities)
    openai = [s for name, s in scores.items() if name in {c.value for c in OPENAI_CATEGORIES}]
    return np.max(np.stack(openai, axis=1), axis=1) if openai else np.zeros(len(probabilities))


def _labeled(
    examples: Sequence[Example], scores: dict[str, np.ndarray]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for name, column in scores.items():
        rows = [j for j, e in enumerate(examples) if name in e.targets]
        if rows:
            labels = np.array([examples[j].targets[name] for j in rows])
            out[name] = (labels, column[rows])
    return out


def _manifest(
    config: TrainConfig,
    files: Sequence[Path],
    examples: Sequence[Example],
    heads: Sequence[str],
    validation: dict[str, tuple[np.ndarray, np.ndarray]],
    thresholds: dict[str, Any],
    seconds: float,
) -> dict[str, Any]:
    per_source: dict[str, Counter[str]] = {}
    source_positives: dict[str, Counter[str]] = {}
    positives: Counter[str] = Counter()
    for e in examples:
        per_source.setdefault(e.source, Counter())[e.split.value] += 1
        source_positives.setdefault(e.source, Counter()).update(
            t for t, v in e.targets.items() if v
        )
        if e.split is Split.TRAIN:
            positives.update(t for t, v in e.targets.items() if v)
    metrics = {}
    for name, (labels, scores) in sorted(validation.items()):
        ap = average_precision(labels, scores)
        f1 = best_f1(labels, scores)
        metrics[name] = {
            "auprc": None if ap is None else round(ap, 4),
            "best_f1": round(f1.f1, 4),
            "n": int(labels.size),
            "n_pos": int(labels.sum()),
        }
    return {
        "name": config.name,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "description": (
            "logistic regression per head over hashed character "
            f"{config.features.char_min}-{config.features.char_max}-grams and word "
            f"1-{config.features.word_ngrams}-grams"
            + (" with target-crossed words" if config.features.target_cross else "")
            + "; word-level features only for "
            + ", ".join(config.word_heads)
            + "; the abusive heads take the maximum over sentences and word windows; "
            "Platt-calibrated on validation"
        ),
        "training": {
            "files": [
                {
                    "name": p.name,
                    "sha256": _sha256(p),
                    "rows": dict(sorted(per_source.get(p.stem, {}).items())),
                }
                for p in files
            ],
            "synthetic": [
                {
                    "name": name,
                    "generator": f"chatguard.classifier.synthetic.{GENERATORS[name].__name__}",
                    "rows": dict(sorted(per_source.get(name, {}).items())),
                    "positives": dict(sorted(source_positives.get(name, {}).items())),
                }
                for name in config.synthetic
            ],
            "sources": {
                source: {
                    "rows": sum(counts.values()),
                    "positives": dict(sorted(source_positives.get(source, {}).items())),
                }
                for source, counts in sorted(per_source.items())
            },
            "label_rules": RULES,
            "excluded_heads": list(config.excluded_heads),
            "split": {
                "by": "blake2b of the normalized text",
                "test_percent": config.plan.test_percent,
                "validation_percent": config.plan.validation_percent,
            },
            "positives": dict(sorted(positives.items())),
            "c": config.c,
            "seconds": round(seconds, 1),
        },
        "metrics": {"validation": metrics},
        "threshold_policy": {
            "act_precision": config.policy.act_precision,
            "allow_recall": config.policy.allow_recall,
            "escalation_budget": config.policy.escalation_budget,
            "traffic_sources": list(config.traffic_sources),
            "traffic_split": "validation",
            "report_only": list(config.policy.report_only),
            "floored": list(config.policy.floored),
            "min_act": config.policy.min_act,
        },
        "thresholds": {
            name: {"allow": t.allow, "act": t.act, "flag": t.flag} for name, t in thresholds.items()
        },
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_eval_sets(examples: Iterable[Example], directory: Path) -> dict[str, int]:
    """Write each source's held-out rows as `<source>.jsonl` for `chatguard evaluate`."""
    directory.mkdir(parents=True, exist_ok=True)
    by_source: dict[str, list[Example]] = {}
    for e in examples:
        if e.split is Split.TEST:
            by_source.setdefault(e.source, []).append(e)
    counts = {}
    for source, rows in sorted(by_source.items()):
        with (directory / f"{source}.jsonl").open("w", encoding="utf-8") as handle:
            for e in rows:
                handle.write(json.dumps(eval_record(e), ensure_ascii=False) + "\n")
        counts[source] = len(rows)
    return counts
