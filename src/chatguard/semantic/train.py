"""Training the semantic tier: embed the training data with the shipped int8 encoder, fit one
logistic head per target, calibrate on validation, and choose per category how much of the
semantic score to blend into the linear model's, on the messages the linear model is unsure of.

The split, the label mapping and the heads are the linear model's (`chatguard.classifier.data`),
so a text held out from one is held out from the other. The blend is chosen against a given
linear model: re-run `chatguard train-semantic` when that model changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chatguard.classifier.calibration import fit_platt
from chatguard.classifier.data import Example, Split, SplitPlan, load_examples
from chatguard.classifier.model import LinearModel, category_scores
from chatguard.classifier.train import HEAD_ORDER, TRAFFIC_SOURCES, Progress
from chatguard.errors import ConfigurationError
from chatguard.evaluation.metrics import average_precision
from chatguard.pipeline.router import Router, Thresholds
from chatguard.semantic.artifact import HEADS_FILE, SemanticArtifact, sha256_of
from chatguard.semantic.encoder import DIMENSIONS, SentenceEncoder
from chatguard.semantic.heads import SemanticHeads
from chatguard.taxonomy import OPENAI_CATEGORIES, Category

_OPENAI = frozenset(c.value for c in OPENAI_CATEGORIES)
_CHUNK = 2048


@dataclass(frozen=True, slots=True)
class SemanticTrainConfig:
    """What shapes the heads and the blend; recorded in the manifest."""

    c: float = 1.0
    min_positives: int = 20
    plan: SplitPlan = field(default_factory=SplitPlan)
    #: Blend weights tried per category.
    grid: tuple[float, ...] = tuple(i / 10 for i in range(11))
    #: Smallest validation AUPRC gain for a category to use the semantic score at all.
    min_gain: float = 0.005
    #: Largest AUPRC loss allowed on any real-chat source with enough positives.
    max_traffic_loss: float = 0.005
    #: Largest loss of "flagged" AUPRC (the maximum over the OpenAI categories) the blend may cost.
    max_flagged_loss: float = 0.002
    traffic_sources: tuple[str, ...] = TRAFFIC_SOURCES
    threads: int = 2
    batch_size: int = 64


@dataclass(slots=True)
class SemanticTrainResult:
    heads: SemanticHeads
    report: dict[str, Any]
    seconds: float


def embed(
    encoder: SentenceEncoder,
    texts: Sequence[str],
    *,
    cache: Path | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Embeddings of `texts` (duplicates embedded once), optionally kept in a cache file keyed
    by each text's digest so a re-run after a linear model change skips the encoder."""
    progress = progress or Progress(None)
    keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
    known: dict[bytes, np.ndarray] = {}
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as arrays:
            for key, row in zip(arrays["keys"], arrays["embeddings"], strict=True):
                known[bytes(key)] = row
    todo = list({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
    starts = list(range(0, len(todo), _CHUNK))
    for start in progress.iterate(starts, "embedding"):
        chunk = todo[start : start + _CHUNK]
        vectors = encoder.encode([t for _, t in chunk])
        for (key, _), row in zip(chunk, vectors, strict=True):
            known[key] = row
    if cache is not None and todo:
        cache.parent.mkdir(parents=True, exist_ok=True)
        names = list(known)
        np.savez(
            cache,
            keys=np.array([np.frombuffer(k, dtype=np.uint8) for k in names]),
            embeddings=np.stack([known[k] for k in names]),
        )
    if not keys:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return np.stack([known[k] for k in keys]).astype(np.float32)


def fit_heads(
    examples: Sequence[Example], x: np.ndarray, heads: Sequence[str], c: float
) -> tuple[np.ndarray, np.ndarray]:
    """One L2-regularised logistic regression per head on the rows that carry its label."""
    from sklearn.linear_model import LogisticRegression

    weights, bias = [], []
    for head in heads:
        rows = np.array([i for i, e in enumerate(examples) if head in e.targets])
        labels = np.array([examples[i].targets[head] for i in rows])
        w = np.array([examples[i].weight for i in rows])
        model = LogisticRegression(C=c, solver="lbfgs", max_iter=500)
        model.fit(x[rows], labels, sample_weight=w)
        weights.append(model.coef_[0])
        bias.append(model.intercept_[0])
    return np.stack(weights, axis=1).astype(np.float32), np.array(bias, dtype=np.float32)


def uncertain_rows(linear: LinearModel, scores: dict[str, np.ndarray]) -> np.ndarray:
    """Which messages the router leaves uncertain after the linear model (the semantic tier's
    input in the cascade)."""
    allow, act, flag = {}, {}, {}
    for name, t in linear.thresholds().items():
        if name in {c.value for c in Category}:
            category = Category(name)
            allow[category], act[category], flag[category] = t.allow, t.act, t.flag
    router = Router(Thresholds(allow=allow, act=act, flag=flag))
    names = [n for n in scores if n in {c.value for c in Category}]
    columns = np.stack([scores[n] for n in names], axis=1) if names else np.zeros((0, 0))
    out = np.zeros(columns.shape[0], dtype=bool)
    categories = [Category(n) for n in names]
    for i, row in enumerate(columns.tolist()):
        route = router.route(dict(zip(categories, row, strict=True)), can_clear=True)
        out[i] = route.value == "uncertain"
    return out


def _ap(labels: np.ndarray, scores: np.ndarray) -> float | None:
    value = average_precision(labels, scores)
    return None if value is None else round(float(value), 4)


def choose_blend(
    examples: Sequence[Example],
    linear: dict[str, np.ndarray],
    semantic: dict[str, np.ndarray],
    uncertain: np.ndarray,
    config: SemanticTrainConfig,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Per category, the blend weight with the best validation AUPRC when the blend replaces the
    linear score on the uncertain messages only, provided no real-chat source loses more than
    `max_traffic_loss`; 0 unless it gains at least `min_gain`. Also reports, for comparison, the
    best weight had the blend been applied to every message."""
    blend: dict[str, float] = {}
    report: dict[str, Any] = {}
    sources = np.array([e.source for e in examples])
    everywhere = np.ones_like(uncertain)
    for name in sorted(set(linear) & set(semantic)):
        rows = np.array([i for i, e in enumerate(examples) if name in e.targets], dtype=int)
        if rows.size == 0:
            continue
        y = np.array([examples[i].targets[name] for i in rows])
        if y.sum() < config.min_positives:
            continue
        lin, sem = linear[name][rows], semantic[name][rows]

        def score(w: float, mask: np.ndarray, lin=lin, sem=sem, rows=rows) -> np.ndarray:
            return np.where(mask[rows], (1 - w) * lin + w * sem, lin)

        guards = []
        for source in config.traffic_sources:
            picked = sources[rows] == source
            if y[picked].sum() >= config.min_positives:
                guards.append(picked)
        base = average_precision(y, lin) or 0.0
        best_w, best_ap = 0.0, base
        for w in config.grid:
            s = score(w, uncertain)
            ap = average_precision(y, s) or 0.0
            ok = all(
                (average_precision(y[g], s[g]) or 0.0)
                >= (average_precision(y[g], lin[g]) or 0.0) - config.max_traffic_loss
                for g in guards
            )
            if ok and ap > best_ap:
                best_w, best_ap = w, ap
        if best_ap - base < config.min_gain:
            best_w, best_ap = 0.0, base
        all_w = max(config.grid, key=lambda w: average_precision(y, score(w, everywhere)) or 0.0)
        blend[name] = best_w
        report[name] = {
            "n": int(y.size),
            "n_pos": int(y.sum()),
            "auprc_linear": _ap(y, lin),
            "auprc_semantic_alone": _ap(y, sem),
            "weight": best_w,
            "auprc_blend_uncertain": _ap(y, score(best_w, uncertain)),
            "weight_if_all": all_w,
            "auprc_blend_all": _ap(y, score(all_w, everywhere)),
            "uncertain_share": round(float(uncertain[rows].mean()), 4),
        }
    return {k: v for k, v in blend.items() if v > 0}, report


def blended_scores(
    linear: dict[str, np.ndarray],
    semantic: dict[str, np.ndarray],
    uncertain: np.ndarray,
    blend: dict[str, float],
) -> dict[str, np.ndarray]:
    """The scores the cascade ends with: the blend on the uncertain rows, linear elsewhere."""
    out = {}
    for name, column in linear.items():
        w = blend.get(name, 0.0)
        mixed = (1 - w) * column + w * semantic.get(name, column)
        out[name] = np.where(uncertain, mixed, column)
    return out


def guard_flagged(
    examples: Sequence[Example],
    linear: dict[str, np.ndarray],
    semantic: dict[str, np.ndarray],
    uncertain: np.ndarray,
    blend: dict[str, float],
    max_loss: float,
) -> tuple[dict[str, float], list[str]]:
    """Drop blended categories, the most harmful first, until "flagged" AUPRC (the maximum over
    the OpenAI categories) is within `max_loss` of the linear model's: a blend that helps one
    category's ranking can still raise clean messages above harmful ones in another."""
    rows = [i for i, e in enumerate(examples) if "flagged" in e.targets]
    if not rows:
        return dict(blend), []
    y = np.array([examples[i].targets["flagged"] for i in rows])

    def flagged_ap(chosen: dict[str, float]) -> float:
        scores = blended_scores(linear, semantic, uncertain, chosen)
        return average_precision(y, _flagged(scores)[rows]) or 0.0

    base = flagged_ap({})
    kept, dropped = dict(blend), []
    while kept and flagged_ap(kept) < base - max_loss:
        worst = max(kept, key=lambda n: flagged_ap({k: v for k, v in kept.items() if k != n}))
        del kept[worst]
        dropped.append(worst)
    return kept, dropped


def _flagged(scores: dict[str, np.ndarray]) -> np.ndarray:
    columns = [v for k, v in scores.items() if k in _OPENAI]
    return np.max(np.stack(columns, axis=1), axis=1)


def train_semantic(
    files: Sequence[Path],
    mappings: dict[str, Any],
    *,
    linear: LinearModel,
    artifact: SemanticArtifact,
    config: SemanticTrainConfig | None = None,
    cache: Path | None = None,
    progress: Progress | None = None,
) -> SemanticTrainResult:
    """Train the heads, choose the blend and write both into `artifact` (heads.npz, manifest)."""
    import time

    config = config or SemanticTrainConfig()
    progress = progress or Progress(None)
    started = time.perf_counter()
    examples = load_examples(files, mappings, plan=config.plan)
    training = [e for e in examples if e.split is Split.TRAIN]
    validation = [e for e in examples if e.split is Split.VALIDATION]
    heads = [h for h in HEAD_ORDER if h in linear.heads and _enough(training, h, config)]
    if not heads:
        raise ConfigurationError("no head has enough labelled training rows")
    progress.note(
        f"{len(training)} train, {len(validation)} validation rows; heads: {', '.join(heads)}"
    )
    encoder = SentenceEncoder.from_artifact(
        artifact, threads=config.threads, batch_size=config.batch_size
    )
    x = embed(encoder, [e.folded for e in training + validation], cache=cache, progress=progress)
    x_train, x_val = x[: len(training)], x[len(training) :]
    progress.note("fitting heads")
    weights, bias = fit_heads(training, x_train, heads, config.c)
    calibration = np.tile([1.0, 0.0], (len(heads), 1))
    val_logits = x_val @ weights + bias
    for i, head in enumerate(heads):
        rows = [j for j, e in enumerate(validation) if head in e.targets]
        labels = np.array([validation[j].targets[head] for j in rows])
        w = np.array([validation[j].weight for j in rows])
        calibration[i] = fit_platt(val_logits[rows, i], labels, w)
    model = SemanticHeads(tuple(heads), weights, bias, calibration)
    semantic = model.category_scores(x_val)
    lin = category_scores(linear.heads, linear.predict_proba([e.folded for e in validation]))
    uncertain = uncertain_rows(linear, lin)
    blend, per_category = choose_blend(validation, lin, semantic, uncertain, config)
    model.blend, dropped = guard_flagged(
        validation, lin, semantic, uncertain, blend, config.max_flagged_loss
    )
    for name in dropped:
        row = per_category[name]
        row["weight_before_flagged_guard"] = row["weight"]
        row["auprc_before_flagged_guard"] = row["auprc_blend_uncertain"]
        row["weight"], row["auprc_blend_uncertain"] = 0.0, row["auprc_linear"]
    report = _report(validation, lin, semantic, uncertain, model, per_category)
    _write(artifact, model, linear, files, examples, config, report, time.perf_counter() - started)
    return SemanticTrainResult(model, report, time.perf_counter() - started)


def _enough(training: Sequence[Example], head: str, config: SemanticTrainConfig) -> bool:
    labels = [e.targets[head] for e in training if head in e.targets]
    positives = sum(labels)
    return positives >= config.min_positives and len(labels) - positives >= config.min_positives


def _report(
    validation: Sequence[Example],
    linear: dict[str, np.ndarray],
    semantic: dict[str, np.ndarray],
    uncertain: np.ndarray,
    model: SemanticHeads,
    per_category: dict[str, Any],
) -> dict[str, Any]:
    blended = blended_scores(linear, semantic, uncertain, model.blend)
    if_all = {n: float(r["weight_if_all"]) for n, r in per_category.items()}
    blended_all = blended_scores(linear, semantic, np.ones_like(uncertain), if_all)
    rows = [i for i, e in enumerate(validation) if "flagged" in e.targets]
    y = np.array([validation[i].targets["flagged"] for i in rows])
    return {
        "split": "validation",
        "uncertain_share": round(float(uncertain.mean()), 4),
        "flagged": {
            "auprc_linear": _ap(y, _flagged(linear)[rows]),
            "auprc_blend_uncertain": _ap(y, _flagged(blended)[rows]),
            "auprc_blend_all": _ap(y, _flagged(blended_all)[rows]),
            "n": int(y.size),
            "n_pos": int(y.sum()),
        },
        "categories": per_category,
    }


def _write(
    artifact: SemanticArtifact,
    model: SemanticHeads,
    linear: LinearModel,
    files: Sequence[Path],
    examples: Sequence[Example],
    config: SemanticTrainConfig,
    report: dict[str, Any],
    seconds: float,
) -> None:
    path = artifact.path / HEADS_FILE
    model.save(path)
    counts: dict[str, dict[str, int]] = {}
    for e in examples:
        split = counts.setdefault(e.source, {})
        split[e.split.value] = split.get(e.split.value, 0) + 1
    artifact.manifest["heads"] = {
        "file": HEADS_FILE,
        "sha256": sha256_of(path),
        "names": list(model.heads),
        "blend": model.blend,
        "blend_scope": "messages uncertain after the linear classifier",
        "trained": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "linear_model": {
            "name": linear.name,
            "created": linear.manifest.get("created"),
        },
        "training": {
            "files": [{"name": p.name, "rows": counts.get(p.stem, {})} for p in files],
            "split": {
                "by": "blake2b of the normalized text (the linear model's split)",
                "test_percent": config.plan.test_percent,
                "validation_percent": config.plan.validation_percent,
            },
            "embeddings": "the shipped int8 encoder (this artifact)",
            "c": config.c,
            "min_gain": config.min_gain,
            "max_traffic_loss": config.max_traffic_loss,
            "max_flagged_loss": config.max_flagged_loss,
            "traffic_sources": list(config.traffic_sources),
            "seconds": round(seconds, 1),
        },
    }
    artifact.manifest["metrics"] = report
    artifact.write_manifest()
