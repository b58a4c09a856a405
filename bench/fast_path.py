"""Throughput and latency of the fast path (every default stage but the LLM) on one core, and of
the classifier alone, on real chat messages; with a peer (alt-profanity-check) when installed.

    .venv/bin/python bench/fast_path.py [--messages 20000] [--eval-dir build/eval]

Pins itself to one core. Prints messages/s (median of repeats) and latency percentiles.
Checks: every timed pass assesses every message, the classifier takes part in the fast path and
decides some of them, the classifier alone scores every message, and, when `semantic` is in
PIPELINE_STAGES, the semantic stage runs on some messages without failing; otherwise exit 1.
Prints the escalation rate (the share still uncertain after the fast path). Compare the cascade
with and without the semantic tier by running it twice:

    PIPELINE_STAGES=filter,classifier .venv/bin/python bench/fast_path.py
    PIPELINE_STAGES=filter,classifier,semantic .venv/bin/python bench/fast_path.py
"""

from __future__ import annotations

import os

# One core: no BLAS or OpenMP threads behind numpy's back.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from checks import Checks  # noqa: E402

from chatguard.classifier.stage import ClassifierStage  # noqa: E402
from chatguard.config import load_settings  # noqa: E402
from chatguard.domain import Message, Route  # noqa: E402
from chatguard.evaluation.metrics import average_precision, percentiles  # noqa: E402
from chatguard.normalize import normalize  # noqa: E402
from chatguard.pipeline import Pipeline, Router  # noqa: E402
from chatguard.pipeline.registry import build_stage  # noqa: E402
from chatguard.pipeline.stage import StageInput  # noqa: E402
from chatguard.service import stage_thresholds  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CHAT_FILES = ("twitch_chat.jsonl", "dota2_chat.jsonl", "conda_dota2_chat.jsonl")
EVAL_SETS = ("toxicchat", "jigsaw", "davidson", "tweeteval_hate", "tweeteval_offensive")
REPEATS = 5
CHECKS = Checks("bench/fast_path.py")


def chat_messages(count: int) -> list[str]:
    texts: list[str] = []
    for name in CHAT_FILES:
        with (DATA / name).open(encoding="utf-8") as handle:
            texts.extend(json.loads(line)["text"] for line in handle)
    rng = np.random.default_rng(0)
    return [texts[i] for i in rng.integers(0, len(texts), count)]


def fast_pipeline() -> Pipeline:
    settings = load_settings()
    stages = [build_stage(n, settings) for n in settings.stage_names if n != "llm"]
    stages = [s for s in stages if not s.escalation]
    return Pipeline(stages, Router(stage_thresholds(stages)))


def time_pipeline(pipeline: Pipeline, texts: list[str], batch: int) -> tuple[float, np.ndarray]:
    """Messages/s over all texts, and each batch's wall time in ms."""
    messages = [Message(text=t, user_id="u", channel_id="c") for t in texts]

    async def run() -> tuple[float, list[float]]:
        await pipeline.start()
        lat = []
        assessed = 0
        started = time.perf_counter()
        for i in range(0, len(messages), batch):
            t0 = time.perf_counter()
            assessed += len(
                await pipeline.assess(messages[i : i + batch], context={"stateless": True})
            )
            lat.append((time.perf_counter() - t0) * 1000)
        total = time.perf_counter() - started
        await pipeline.close()
        CHECKS.expect(
            assessed == len(messages), f"batch {batch}: {assessed} of {len(messages)} assessed"
        )
        return len(messages) / total, lat

    rate, lat = asyncio.run(run())
    return rate, np.array(lat)


def time_classifier(stage: ClassifierStage, texts: list[str], batch: int) -> float:
    inputs = [StageInput(Message(text=t, user_id="u", channel_id="c"), normalize(t)) for t in texts]
    scored = 0
    started = time.perf_counter()
    for i in range(0, len(inputs), batch):
        scored += sum(1 for r in stage.assess_sync(inputs[i : i + batch]) if r.scores)
    rate = len(inputs) / (time.perf_counter() - started)
    CHECKS.expect(scored == len(inputs), f"classifier alone scored {scored} of {len(inputs)}")
    return rate


def check_classifier_decides(pipeline: Pipeline, texts: list[str]) -> None:
    """The classifier runs in the fast path and settles some messages itself (untimed)."""
    messages = [Message(text=t, user_id="u", channel_id="c") for t in texts]
    assessments = asyncio.run(pipeline.assess(messages, context={"stateless": True}))
    ran = sum(1 for a in assessments if any(t.stage == "classifier" for t in a.trail))
    decided = sum(1 for a in assessments if a.decided_by == "classifier")
    CHECKS.expect(ran > 0, "the classifier ran on none of the messages")
    CHECKS.expect(decided > 0, "the classifier decided none of the messages")
    print(f"classifier: ran on {ran}, decided {decided} of {len(messages)} messages")
    uncertain = sum(1 for a in assessments if a.route is Route.UNCERTAIN)
    print(f"escalation rate (uncertain after the fast path): {uncertain / len(messages):.2%}")
    if "semantic" in pipeline.stage_names:
        reached = sum(1 for a in assessments if any(t.stage == "semantic" for t in a.trail))
        failed = sum(1 for a in assessments for t in a.trail if t.stage == "semantic" and t.error)
        CHECKS.expect(reached > 0, "the semantic stage ran on none of the messages")
        CHECKS.expect(failed == 0, f"the semantic stage failed on {failed} messages")
        print(f"semantic: ran on {reached} of {len(messages)} messages")


def time_model(stage: ClassifierStage, texts: list[str], batch: int) -> float:
    folded = [normalize(t).folded for t in texts]
    started = time.perf_counter()
    for i in range(0, len(folded), batch):
        stage.model.predict_proba(folded[i : i + batch])
    return len(folded) / (time.perf_counter() - started)


def median_of(fn, *args) -> float:  # type: ignore[no-untyped-def]
    return statistics.median(fn(*args) for _ in range(REPEATS))


def peer() -> object | None:
    try:
        from profanity_check import predict_prob  # type: ignore[import-not-found]
    except ImportError:
        return None
    return predict_prob


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--eval-dir", type=Path, default=Path("build/eval"))
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    texts = chat_messages(args.messages)
    pipeline = fast_pipeline()
    stage = next(s for s in pipeline.stages if isinstance(s, ClassifierStage))
    print(f"fast path stages: {', '.join(pipeline.stage_names)}; model {stage.model.name}")
    print(f"{len(texts)} real chat messages (twitch, dota 2), one core, median of {REPEATS} runs")
    check_classifier_decides(pipeline, texts[:2000])
    print(f"{'what':<34}{'batch':>7}{'msgs/s':>11}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for batch in (1, 64, 256, 1024):
        sample = texts if batch > 1 else texts[:2000]
        runs = [time_pipeline(pipeline, sample, batch) for _ in range(3 if batch == 1 else REPEATS)]
        rate = statistics.median(r for r, _ in runs)
        lat = percentiles(np.concatenate([lat for _, lat in runs]))
        print(
            f"{'fast path (pipeline.assess)':<34}{batch:>7}{rate:>11,.0f}"
            f"{lat['p50']:>9.3f}{lat['p95']:>9.3f}{lat['p99']:>9.3f}"
        )
    for batch in (256, 1024):
        rate = median_of(time_classifier, stage, texts, batch)
        print(f"{'classifier stage alone':<34}{batch:>7}{rate:>11,.0f}")
        rate = median_of(time_model, stage, texts, batch)
        print(f"{'classifier model (predict_proba)':<34}{batch:>7}{rate:>11,.0f}")
    predict_prob = peer()
    if predict_prob is None:
        print("peer alt-profanity-check: not installed (pip install alt-profanity-check)")
        return CHECKS.report()
    for batch in (256, 1024):
        started = time.perf_counter()
        for i in range(0, len(texts), batch):
            predict_prob(texts[i : i + batch])  # type: ignore[operator]
        rate = len(texts) / (time.perf_counter() - started)
        print(f"{'peer alt-profanity-check':<34}{batch:>7}{rate:>11,.0f}")
    compare_quality(stage, predict_prob, args.eval_dir)
    return CHECKS.report()


def compare_quality(stage: ClassifierStage, predict_prob: object, eval_dir: Path) -> None:
    """Flagged AUPRC on the held-out sets: classifier alone vs the peer."""
    if not eval_dir.is_dir():
        print(f"no held-out sets in {eval_dir}: run `chatguard train ... --eval-dir {eval_dir}`")
        return
    from chatguard.classifier.model import category_scores
    from chatguard.taxonomy import OPENAI_CATEGORIES

    openai = {c.value for c in OPENAI_CATEGORIES}
    print(f"\nflagged AUPRC on held-out sets ({eval_dir})")
    print(f"{'set':<22}{'n':>7}{'chatguard':>11}{'alt-profanity-check':>21}")
    for name in EVAL_SETS:
        path = eval_dir / f"{name}.jsonl"
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        y = np.array([r["flagged"] for r in rows])
        texts = [r["text"] for r in rows]
        scores = category_scores(
            stage.model.heads, stage.model.predict_proba([normalize(t).folded for t in texts])
        )
        ours = np.max(np.stack([v for k, v in scores.items() if k in openai], axis=1), axis=1)
        theirs = predict_prob(texts)  # type: ignore[operator]
        print(
            f"{name:<22}{len(rows):>7}{average_precision(y, ours):>11.3f}"
            f"{average_precision(y, theirs):>21.3f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
