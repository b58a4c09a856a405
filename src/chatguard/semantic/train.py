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
from collections.abc import Callable, Sequence
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
    #: Messages of at least this many normalized characters take weights of their own, sure
    #: or not (0: no long bucket, the blend reaches the uncertain band only). 160: on
    #: validation 100, 128, 160 and 200 gave a mean per-source flagged AUPRC of 0.7869, 0.7845,
    #: 0.7846 and 0.7758 (linear 0.7772) with 20.6%, 12.0%, 6.1% and 2.9% of Twitch chat long.
    long_min_chars: int = 160
    #: Shorter messages of at least this many normalized characters take weights of their
    #: own too, sure or not (0: no medium bucket), chosen after the long bucket's. 60: on
    #: validation 40, 60, 80 and 100 gave a mean per-source flagged AUPRC of 0.7859, 0.7910,
    #: 0.7849 and 0.7865 (no medium bucket 0.7847) with 87%, 51%, 30% and 14% of Twitch chat
    #: in the bucket.
    medium_min_chars: int = 60
    #: Largest loss of a category's validation AUPRC the flagged floor (below) may cost.
    max_category_loss: float = 0.002
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
    base: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Per category, the blend weight with the best validation AUPRC when the blend replaces the
    linear score on the messages of `uncertain` only (the others keep `base`, the linear scores
    unless given), provided no real-chat source loses more than `max_traffic_loss` against the
    linear model; 0 unless it gains at least `min_gain` over `base`. Also reports, for
    comparison, the best weight had the blend been applied to every message."""
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
        rest = (base or linear)[name][rows]

        def score(w: float, mask: np.ndarray, lin=lin, sem=sem, rows=rows, rest=rest) -> np.ndarray:
            return np.where(mask[rows], (1 - w) * lin + w * sem, rest)

        guards = []
        for source in config.traffic_sources:
            picked = sources[rows] == source
            if y[picked].sum() >= config.min_positives:
                guards.append(picked)
        start = average_precision(y, rest) or 0.0
        best_w, best_ap = 0.0, start
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
        if best_ap - start < config.min_gain:
            best_w, best_ap = 0.0, start
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
    long: np.ndarray | None = None,
    long_blend: dict[str, float] | None = None,
    medium: np.ndarray | None = None,
    medium_blend: dict[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """The scores the cascade ends with: on the `long` rows the long weights (0 where a
    category has none), on the `medium` rows (not long) the medium weights, on the other
    uncertain rows the band's, linear elsewhere."""
    out = {}
    band = uncertain if long is None else uncertain & ~long
    if medium is not None:
        medium = medium if long is None else medium & ~long
        band = band & ~medium
    for name, column in linear.items():
        other = semantic.get(name, column)
        w = blend.get(name, 0.0)
        mixed = np.where(band, (1 - w) * column + w * other, column)
        if long is not None:
            w_long = (long_blend or {}).get(name, 0.0)
            mixed = np.where(long, (1 - w_long) * column + w_long * other, mixed)
        if medium is not None:
            w_medium = (medium_blend or {}).get(name, 0.0)
            mixed = np.where(medium, (1 - w_medium) * column + w_medium * other, mixed)
        out[name] = mixed
    return out


def guard_flagged(
    examples: Sequence[Example],
    linear: dict[str, np.ndarray],
    semantic: dict[str, np.ndarray],
    uncertain: np.ndarray,
    blend: dict[str, float],
    max_loss: float,
    scorer: Callable[[dict[str, float]], dict[str, np.ndarray]] | None = None,
) -> tuple[dict[str, float], list[str]]:
    """Drop blended categories, the most harmful first, until "flagged" AUPRC (the maximum over
    the OpenAI categories) is within `max_loss` of the linear model's: a blend that helps one
    category's ranking can still raise clean messages above harmful ones in another. `scorer`
    turns a blend into the scores (default: `blend` on the `uncertain` rows)."""
    rows = [i for i, e in enumerate(examples) if "flagged" in e.targets]
    if not rows:
        return dict(blend), []
    y = np.array([examples[i].targets["flagged"] for i in rows])
    if scorer is None:

        def scorer(chosen: dict[str, float]) -> dict[str, np.ndarray]:
            return blended_scores(linear, semantic, uncertain, chosen)

    def flagged_ap(chosen: dict[str, float]) -> float:
        return average_precision(y, _flagged(scorer(chosen))[rows]) or 0.0

    base = average_precision(y, _flagged(linear)[rows]) or 0.0
    kept, dropped = dict(blend), []
    while kept and flagged_ap(kept) < base - max_loss:
        worst = max(kept, key=lambda n: flagged_ap({k: v for k, v in kept.items() if k != n}))
        del kept[worst]
        dropped.append(worst)
    return kept, dropped


def flagged_by_source(
    examples: Sequence[Example], scores: dict[str, np.ndarray], min_positives: int
) -> dict[str, float]:
    """Flagged AUPRC (the maximum over the OpenAI categories) per source with enough
    positives and negatives."""
    flagged = _flagged(scores)
    by_source: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        if "flagged" in e.targets:
            by_source.setdefault(e.source, []).append(i)
    out = {}
    for source, rows in sorted(by_source.items()):
        y = np.array([examples[i].targets["flagged"] for i in rows])
        if min_positives <= y.sum() <= y.size - min_positives:
            out[source] = float(average_precision(y, flagged[rows]) or 0.0)
    return out


def choose_flagged_floor(
    examples: Sequence[Example],
    linear: dict[str, np.ndarray],
    scorer: Callable[[dict[str, float]], dict[str, np.ndarray]],
    long_blend: dict[str, float],
    config: SemanticTrainConfig,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Raise every OpenAI category's long weight to a shared floor `f`, the one with the best
    mean per-source flagged AUPRC on validation (each source a domain of its own: prompts,
    comments, tweets, chat), provided no real-chat source's flagged AUPRC falls more than
    `max_traffic_loss` below the linear model's, pooled flagged no more than
    `max_flagged_loss`, and no category's AUPRC more than `max_category_loss` below what the
    per-category long weights give; 0 unless the mean gains at least `min_gain`.

    The categories' own labels cannot choose this: `flagged` is the maximum over them, and
    sources such as ToxicChat label harm without saying which kind."""
    categories = sorted(n for n in linear if n in _OPENAI)

    def floored(f: float) -> dict[str, float]:
        out = dict(long_blend)
        for name in categories:
            out[name] = max(out.get(name, 0.0), f)
        return {k: v for k, v in out.items() if v > 0}

    flagged_rows = [i for i, e in enumerate(examples) if "flagged" in e.targets]
    y_flagged = np.array([examples[i].targets["flagged"] for i in flagged_rows])
    labelled = {
        name: np.array([i for i, e in enumerate(examples) if name in e.targets], dtype=int)
        for name in linear
    }

    def category_aps(scores: dict[str, np.ndarray]) -> dict[str, float]:
        out = {}
        for name, rows in labelled.items():
            y = np.array([examples[i].targets[name] for i in rows])
            if rows.size and y.sum() >= config.min_positives:
                out[name] = float(average_precision(y, scores[name][rows]) or 0.0)
        return out

    def pooled(scores: dict[str, np.ndarray]) -> float:
        return float(average_precision(y_flagged, _flagged(scores)[flagged_rows]) or 0.0)

    linear_sources = flagged_by_source(examples, linear, config.min_positives)
    start_scores = scorer(long_blend)
    start_categories = category_aps(start_scores)
    start_sources = flagged_by_source(examples, start_scores, config.min_positives)
    sources = sorted(start_sources)
    start = float(np.mean([start_sources[s] for s in sources])) if sources else 0.0
    linear_pooled = pooled(linear)
    tried = []
    best_f, best = 0.0, start
    for f in config.grid:
        if f == 0:
            continue
        scores = scorer(floored(f))
        per_source = flagged_by_source(examples, scores, config.min_positives)
        mean = float(np.mean([per_source[s] for s in sources])) if sources else 0.0
        cats = category_aps(scores)
        refused = [
            f"{s} flagged"
            for s in config.traffic_sources
            if s in per_source and per_source[s] < linear_sources[s] - config.max_traffic_loss
        ]
        if pooled(scores) < linear_pooled - config.max_flagged_loss:
            refused.append("pooled flagged")
        refused += [n for n in cats if cats[n] < start_categories[n] - config.max_category_loss]
        ok = not refused
        tried.append({"floor": f, "mean_flagged_by_source": round(mean, 4), "refused_by": refused})
        if ok and mean > best:
            best_f, best = f, mean
    if best - start < config.min_gain:
        best_f, best = 0.0, start
    chosen = floored(best_f) if best_f > 0 else dict(long_blend)
    final = flagged_by_source(examples, scorer(chosen), config.min_positives)
    report = {
        "floor": best_f,
        "sources": sources,
        "mean_flagged_by_source_linear": round(
            float(np.mean([linear_sources[s] for s in sources])) if sources else 0.0, 4
        ),
        "mean_flagged_by_source_before_floor": round(start, 4),
        "mean_flagged_by_source": round(best, 4),
        "flagged_by_source": {
            s: {"linear": round(linear_sources[s], 4), "blend": round(final[s], 4)} for s in sources
        },
        "tried": tried,
    }
    return chosen, report


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
    heads: SemanticHeads | None = None,
) -> SemanticTrainResult:
    """Train the heads, choose the blend and write both into `artifact` (heads.npz, manifest).
    With `heads` (the artifact's own, trained on the same split) only the blend is chosen
    again: only the validation rows are embedded, and heads.npz is left as it is."""
    import time

    config = config or SemanticTrainConfig()
    progress = progress or Progress(None)
    started = time.perf_counter()
    examples = load_examples(files, mappings, plan=config.plan)
    training = [e for e in examples if e.split is Split.TRAIN]
    validation = [e for e in examples if e.split is Split.VALIDATION]
    encoder = SentenceEncoder.from_artifact(
        artifact, threads=config.threads, batch_size=config.batch_size
    )
    if heads is not None:
        progress.note(f"{len(validation)} validation rows; the artifact's heads kept")
        model = heads
        x_val = embed(encoder, [e.folded for e in validation], cache=cache, progress=progress)
    else:
        model, x_val = _fit(training, validation, linear, encoder, config, cache, progress)
    semantic = model.category_scores(x_val)
    lin = category_scores(linear.heads, linear.predict_proba([e.folded for e in validation]))
    uncertain = uncertain_rows(linear, lin)
    chars = np.array([len(e.folded) for e in validation])
    long = chars >= config.long_min_chars if config.long_min_chars > 0 else chars < 0
    band = uncertain & ~long
    blend, per_category = choose_blend(validation, lin, semantic, band, config)
    model.blend, dropped = guard_flagged(
        validation, lin, semantic, band, blend, config.max_flagged_loss
    )
    for name in dropped:
        row = per_category[name]
        row["weight_before_flagged_guard"] = row["weight"]
        row["auprc_before_flagged_guard"] = row["auprc_blend_uncertain"]
        row["weight"], row["auprc_blend_uncertain"] = 0.0, row["auprc_linear"]
    long_report: dict[str, Any] | None = None
    if long.any():
        model.long_blend, long_report = _choose_long(
            validation, lin, semantic, uncertain, long, model.blend, config
        )
        model.long_min_chars = config.long_min_chars
    medium_report: dict[str, Any] | None = None
    medium = (chars >= config.medium_min_chars) & ~long
    if config.medium_min_chars > 0 and medium.any():
        model.medium_blend, medium_report = _choose_medium(
            validation, lin, semantic, uncertain, long, medium, model, config
        )
        model.medium_min_chars = config.medium_min_chars if model.medium_blend else 0
    if not model.medium_min_chars:
        medium = np.zeros_like(long)
    report = _report(validation, lin, semantic, uncertain, long, model, per_category, medium)
    if long_report is not None:
        report["long"] = long_report
    if medium_report is not None:
        report["medium"] = medium_report
    _write(
        artifact,
        model,
        linear,
        files,
        examples,
        config,
        report,
        time.perf_counter() - started,
        kept=heads is not None,
    )
    return SemanticTrainResult(model, report, time.perf_counter() - started)


def _choose_long(
    validation: Sequence[Example],
    linear: dict[str, np.ndarray],
    semantic: dict[str, np.ndarray],
    uncertain: np.ndarray,
    long: np.ndarray,
    blend: dict[str, float],
    config: SemanticTrainConfig,
) -> tuple[dict[str, float], dict[str, Any]]:
    """The long messages' weights (`_choose_bucket`), with the band's blend fixed."""

    def scorer(long_blend: dict[str, float]) -> dict[str, np.ndarray]:
        return blended_scores(linear, semantic, uncertain, blend, long, long_blend)

    return _choose_bucket(
        "long", validation, linear, semantic, uncertain, long, scorer, config,
        {"min_chars": config.long_min_chars},
    )  # fmt: skip


def _choose_medium(
    validation: Sequence[Example],
    linear: dict[str, np.ndarray],
    semantic: dict[str, np.ndarray],
    uncertain: np.ndarray,
    long: np.ndarray,
    medium: np.ndarray,
    model: SemanticHeads,
    config: SemanticTrainConfig,
) -> tuple[dict[str, float], dict[str, Any]]:
    """The medium messages' weights, chosen as the long ones are (`_choose_bucket`) with the
    band's and the long bucket's weights fixed."""

    def scorer(medium_blend: dict[str, float]) -> dict[str, np.ndarray]:
        return blended_scores(
            linear, semantic, uncertain, model.blend, long, model.long_blend, medium, medium_blend
        )

    return _choose_bucket(
        "medium", validation, linear, semantic, uncertain, medium, scorer, config,
        {"min_chars": config.medium_min_chars, "below_chars": config.long_min_chars},
    )  # fmt: skip


def _choose_bucket(
    bucket: str,
    validation: Sequence[Example],
    linear: dict[str, np.ndarray],
    semantic: dict[str, np.ndarray],
    uncertain: np.ndarray,
    rows: np.ndarray,
    scorer: Callable[[dict[str, float]], dict[str, np.ndarray]],
    config: SemanticTrainConfig,
    bounds: dict[str, int],
) -> tuple[dict[str, float], dict[str, Any]]:
    """A length bucket's weights: per category against the scores the other buckets leave
    (`choose_blend` on the bucket's `rows`), categories dropped while they cost pooled
    flagged, then the OpenAI categories raised to the floor that pays on flagged
    (`choose_flagged_floor`); with the manifest's record of the choice."""
    chosen, per_category = choose_blend(validation, linear, semantic, rows, config, base=scorer({}))
    chosen, dropped = guard_flagged(
        validation, linear, semantic, uncertain, chosen, config.max_flagged_loss, scorer
    )
    chosen, floor = choose_flagged_floor(validation, linear, scorer, chosen, config)
    # Categories without a head of their own (too few labels) keep the linear score.
    chosen = {k: v for k, v in chosen.items() if k in semantic}
    sources = np.array([e.source for e in validation])
    return chosen, {
        **bounds,
        "share": round(float(rows.mean()), 4),
        "share_by_traffic_source": {
            s: round(float(rows[sources == s].mean()), 4)
            for s in config.traffic_sources
            if (sources == s).any()
        },
        "categories": {
            name: {
                "weight": row["weight"],
                "auprc_before": row["auprc_linear"],
                f"auprc_blend_{bucket}": row["auprc_blend_uncertain"],
                f"{bucket}_share": row["uncertain_share"],
            }
            for name, row in per_category.items()
        },
        "dropped_by_flagged_guard": dropped,
        "flagged_floor": floor,
    }


def _fit(
    training: Sequence[Example],
    validation: Sequence[Example],
    linear: LinearModel,
    encoder: SentenceEncoder,
    config: SemanticTrainConfig,
    cache: Path | None,
    progress: Progress,
) -> tuple[SemanticHeads, np.ndarray]:
    """Heads fitted on the training rows' embeddings, calibrated on validation; with the
    validation embeddings."""
    heads = [h for h in HEAD_ORDER if h in linear.heads and _enough(training, h, config)]
    if not heads:
        raise ConfigurationError("no head has enough labelled training rows")
    progress.note(
        f"{len(training)} train, {len(validation)} validation rows; heads: {', '.join(heads)}"
    )
    x = embed(encoder, [e.folded for e in [*training, *validation]], cache=cache, progress=progress)
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
    return SemanticHeads(tuple(heads), weights, bias, calibration), x_val


def _enough(training: Sequence[Example], head: str, config: SemanticTrainConfig) -> bool:
    labels = [e.targets[head] for e in training if head in e.targets]
    positives = sum(labels)
    return positives >= config.min_positives and len(labels) - positives >= config.min_positives


def _report(
    validation: Sequence[Example],
    linear: dict[str, np.ndarray],
    semantic: dict[str, np.ndarray],
    uncertain: np.ndarray,
    long: np.ndarray,
    model: SemanticHeads,
    per_category: dict[str, Any],
    medium: np.ndarray | None = None,
) -> dict[str, Any]:
    blended = blended_scores(
        linear, semantic, uncertain, model.blend, long, model.long_blend, medium, model.medium_blend
    )
    by_source = {
        source: {"linear": round(ap, 4), "blend": round(after, 4)}
        for (source, ap), after in zip(
            flagged_by_source(validation, linear, 20).items(),
            flagged_by_source(validation, blended, 20).values(),
            strict=True,
        )
    }
    if_all = {n: float(r["weight_if_all"]) for n, r in per_category.items()}
    blended_all = blended_scores(linear, semantic, np.ones_like(uncertain), if_all)
    rows = [i for i, e in enumerate(validation) if "flagged" in e.targets]
    y = np.array([validation[i].targets["flagged"] for i in rows])
    return {
        "split": "validation",
        "uncertain_share": round(float(uncertain.mean()), 4),
        "flagged": {
            "auprc_linear": _ap(y, _flagged(linear)[rows]),
            "auprc_blend": _ap(y, _flagged(blended)[rows]),
            "auprc_blend_all": _ap(y, _flagged(blended_all)[rows]),
            "n": int(y.size),
            "n_pos": int(y.sum()),
        },
        "flagged_by_source": by_source,
        "categories": per_category,
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(
    artifact: SemanticArtifact,
    model: SemanticHeads,
    linear: LinearModel,
    files: Sequence[Path],
    examples: Sequence[Example],
    config: SemanticTrainConfig,
    report: dict[str, Any],
    seconds: float,
    *,
    kept: bool = False,
) -> None:
    path = artifact.path / HEADS_FILE
    previous = dict(artifact.manifest.get("heads", {}))
    if not kept:
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
        "blend_scope": "messages uncertain after the linear classifier"
        + (
            f" and shorter than {model.long_min_chars} characters; blend_long: every message "
            f"of {model.long_min_chars} characters or more"
            if model.long_min_chars
            else ""
        ),
        "blend_long": {"min_chars": model.long_min_chars, "weights": model.long_blend},
        "blend_medium": {"min_chars": model.medium_min_chars, "weights": model.medium_blend},
        "trained": previous.get("trained") if kept else _now(),
        "blend_chosen": _now(),
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
            "long_min_chars": config.long_min_chars,
            "medium_min_chars": config.medium_min_chars,
            "max_category_loss": config.max_category_loss,
            "traffic_sources": list(config.traffic_sources),
            "seconds": round(seconds, 1),
        },
    }
    if kept:
        # The heads and what they were fitted on are as before; the blend and its guards new.
        artifact.manifest["heads"]["training"] = {
            **previous.get("training", {}),
            **{k: v for k, v in artifact.manifest["heads"]["training"].items() if k != "c"},
            "heads": "kept from the earlier training (same files and split)",
        }
    artifact.manifest["metrics"] = report
    artifact.write_manifest()
