"""Benchmark of the lightweight filter on real chat lines, with profanity-filter peers on the
same lines in the same run.

    .venv/bin/python bench/filter.py [--lines N] [--repeat R] [--check] [--no-peers]

Figures: messages per second for batches (the filter stages over batches of 512, normalization
included), and per-message latency percentiles for one message at a time, in-process. The
process is pinned to one CPU (so "one core" is literal) and reports messages per CPU second
beside wall-clock rates; every timed run starts with a new stage and cold caches. The filter
is measured once with CPython's default collector settings, then every row with the settings
`chatguard serve` runs with (`chatguard.runtime.tune_gc_for_serving`). `--check`
first compares the batched stage's results with the per-message detectors' on the same lines
(they must be identical) and exits 1 if they differ. Every timed run must return a result
for every line, the filter and the rule stage must find something (chat has profanity), and
every peer must answer every line, or the script exits 1. Peers:
better-profanity (word list with leetspeak variants) and alt-profanity-check (a linear model
on TF-IDF). They only find profanity; the filter also runs PII, spam and prompt-injection
detection, so the "rules only" row is the like-for-like one. Install the peers with the `bench`
extra; a peer that cannot be imported is skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from checks import Checks

from chatguard.config import load_settings
from chatguard.domain import Message, StageResult
from chatguard.filter import skeleton as skeleton_module
from chatguard.filter.detection import NOTHING, Detection, prepare
from chatguard.filter.speedups import native
from chatguard.normalize import normalize
from chatguard.pipeline.stage import StageInput
from chatguard.runtime import tune_gc_for_serving
from chatguard.stages.filter import DetectorStage, FilterStage
from chatguard.stages.pii import PiiStage
from chatguard.stages.prompt_injection import PromptInjectionStage
from chatguard.stages.rules import RuleStage
from chatguard.stages.spam import SpamStage

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SOURCES = ("twitch_chat.jsonl", "dota2_chat.jsonl")
BATCH = 512
CHECKS = Checks("bench/filter.py")


def load_lines(limit: int | None) -> list[tuple[str, str]]:
    """(user, text) pairs from the chat sets; with `limit`, an even sample of both sets in
    file order (so a short run still mixes Twitch and Dota chat)."""
    lines: list[tuple[str, str]] = []
    for name in SOURCES:
        with (DATA / name).open(encoding="utf-8") as handle:
            for number, raw in enumerate(handle):
                row = json.loads(raw)
                user = row.get("user") or f"{name}:{row.get('game', '')}:{row.get('slot', number)}"
                lines.append((str(user), row["text"]))
    if limit and limit < len(lines):
        step = len(lines) / limit
        lines = [lines[int(i * step)] for i in range(limit)]
    return lines


def messages(lines: Sequence[tuple[str, str]], start: float) -> list[Message]:
    # 200 messages a second on one channel: a busy stream.
    return [
        Message(text=t, user_id=u, channel_id="bench", timestamp=start + i / 200)
        for i, (u, t) in enumerate(lines)
    ]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


class Row:
    def __init__(self, name: str, rates: list[tuple[float, float]], lat_us: list[float] | None):
        self.name = name
        # (wall-clock, CPU-time) messages per second of each timed run; the median is shown.
        self.per_s = statistics.median(r[0] for r in rates)
        self.per_cpu_s = statistics.median(r[1] for r in rates)
        lat = sorted(lat_us) if lat_us else []
        self.p50 = percentile(lat, 0.50) if lat else None
        self.p99 = percentile(lat, 0.99) if lat else None
        self.p999 = percentile(lat, 0.999) if lat else None


def cold_caches() -> None:
    """Forget what earlier runs cached (a timed run must not reuse the previous run's words)."""
    clear = getattr(skeleton_module, "clear_caches", None)
    if clear is not None:
        clear()


def run_stage(factory: Callable[[], DetectorStage], lines, repeat: int) -> Row:
    rates = []
    for run in range(repeat + 1):  # the first run warms the interpreter up and is not counted
        cold_caches()
        stage = factory()
        batch_messages = messages(lines, 1e6 * (run + 1))
        results = 0
        found = 0
        started, cpu = time.perf_counter_ns(), time.process_time_ns()
        for offset in range(0, len(batch_messages), BATCH):
            chunk = batch_messages[offset : offset + BATCH]
            answers = stage.assess_sync([StageInput(m, normalize(m.text)) for m in chunk])
            results += len(answers)
            found += sum(1 for a in answers if a.scores)
        if run:
            rates.append(_rates(len(batch_messages), started, cpu))
        CHECKS.expect(
            results == len(batch_messages),
            f"{stage.name}: {results} results for {len(batch_messages)} lines",
        )
        if stage.name in ("filter", "rules"):  # PII or injections may rightly be absent
            CHECKS.expect(found > 0, f"{stage.name}: found nothing on {len(batch_messages)} lines")
    cold_caches()
    stage = factory()
    latencies = []
    for m in messages(lines, 9e6):
        started = time.perf_counter_ns()
        stage.assess_sync([StageInput(m, normalize(m.text))])
        latencies.append((time.perf_counter_ns() - started) / 1000)
    return Row(stage.name, rates, latencies)


def run_peer(
    name: str,
    batch: Callable[[list[str]], object] | None,
    one: Callable[[str], object],
    texts,
    repeat: int,
) -> Row:
    """A peer's figures. Without a batch form, its throughput is that of the one-at-a-time
    pass (the same work; better-profanity is too slow to run several passes)."""
    one(texts[0])
    latencies = []
    answered = 0
    started, cpu = time.perf_counter_ns(), time.process_time_ns()
    for text in texts:
        begun = time.perf_counter_ns()
        answered += one(text) is not None
        latencies.append((time.perf_counter_ns() - begun) / 1000)
    CHECKS.expect(answered == len(texts), f"{name}: answered {answered} of {len(texts)} lines")
    if batch is None:
        return Row(name, [_rates(len(texts), started, cpu)], latencies)
    rates = []
    for run in range(repeat + 1):
        started, cpu = time.perf_counter_ns(), time.process_time_ns()
        for offset in range(0, len(texts), BATCH):
            batch(texts[offset : offset + BATCH])
        if run:
            rates.append(_rates(len(texts), started, cpu))
    return Row(name, rates, latencies)


def _rates(count: int, started_ns: int, cpu_ns: int) -> tuple[float, float]:
    """Messages per wall-clock second and per CPU second since the two start marks. On a
    shared machine the CPU-time figure is the steadier measure of one core's throughput."""
    wall = (time.perf_counter_ns() - started_ns) / 1e9
    cpu = (time.process_time_ns() - cpu_ns) / 1e9
    return count / wall, count / max(cpu, 1e-9)


def peers(texts: list[str], repeat: int) -> list[Row]:
    rows = []
    try:
        from better_profanity import profanity

        profanity.load_censor_words()
        rows.append(run_peer("better-profanity", None, profanity.contains_profanity, texts, repeat))
    except ImportError:
        print("note: better-profanity is not installed; skipped (install the 'bench' extra)")
    try:
        from profanity_check import predict_prob

        rows.append(
            run_peer(
                "alt-profanity-check",
                predict_prob,
                lambda text: predict_prob([text]),
                texts,
                repeat,
            )
        )
    except ImportError:
        print("note: alt-profanity-check is not installed; skipped (install the 'bench' extra)")
    return rows


def per_message(stage: DetectorStage, items: Sequence[StageInput]) -> list[StageResult]:
    """The stage's results computed one message at a time through each detector's `detect`
    (the reference the batched path must match)."""
    results = []
    for item in items:
        prepared = prepare(item.message, item.normalized, item.context)
        found = [d for d in (detector.detect(prepared) for detector in stage.detectors) if d]
        if stage.spam is not None:
            spam = stage.spam.detect(prepared)
            found += [spam] if spam else []
        if len(stage.detectors) == 1 and stage.spam is None:
            detection = stage.detectors[0].detect(prepared)
        else:
            detection = NOTHING if not found else found[0] if len(found) == 1 else None
            detection = detection or Detection.merge(found)
        results.append(
            StageResult(stage.name, dict(detection.scores), detection.spans, detection.reasons)
        )
    return results


def check(factories: Sequence[Callable[[], DetectorStage]], lines) -> int:
    """How many results of the batched stages differ from the per-message reference."""
    differ = 0
    for factory in factories:
        batched, single = factory(), factory()
        batch_messages = messages(lines, 5e6)
        for offset in range(0, len(batch_messages), BATCH):
            items = [
                StageInput(m, normalize(m.text)) for m in batch_messages[offset : offset + BATCH]
            ]
            fast = batched.assess_sync(items)
            slow = per_message(single, items)
            for a, b in zip(fast, slow, strict=True):
                # (scores compared with their order: a tie is broken by the first category)
                differ += (list(a.scores.items()), a.spans, a.reasons) != (
                    list(b.scores.items()),
                    b.spans,
                    b.reasons,
                )
    return differ


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lines", type=int, default=4000, help="an even sample of N lines (0: all 12,261)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (median is shown)")
    parser.add_argument(
        "--check", action="store_true", help="compare batched and per-message results first"
    )
    parser.add_argument(
        "--no-peers", action="store_true", help="skip the peers (for before/after comparisons)"
    )
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, literally
    lines = load_lines(args.lines)
    texts = [t for _, t in lines]
    ascii_share = sum(t.isascii() for t in texts) / len(texts)
    print(f"compiled filter kernels: {'on' if native is not None else 'off'}")
    print(
        f"{len(lines)} chat lines from {', '.join(SOURCES)}; {ascii_share:.0%} ASCII; "
        f"mean {statistics.mean(len(t) for t in texts):.0f} chars; python {sys.version.split()[0]}"
    )
    factories = (FilterStage, RuleStage, PiiStage, SpamStage, PromptInjectionStage)
    if args.check:
        differ = check(factories, lines)
        print(f"check: {differ} of {len(lines) * len(factories)} batched results differ "
              "from the per-message detectors")  # fmt: skip
        if differ:
            return 1
    # The filter as CPython's default collector settings leave it, then everything as a
    # server runs it (`chatguard serve` freezes its start-up objects and collects the young
    # generation less often: see chatguard.runtime).
    default_gc = run_stage(FilterStage, lines, args.repeat)
    default_gc.name = "filter, default GC"
    thresholds = tune_gc_for_serving(load_settings().gc_young_threshold)
    print(f"GC as `chatguard serve` runs it: start-up objects frozen, thresholds {thresholds}")
    rows = [
        run_stage(FilterStage, lines, args.repeat),
        run_stage(RuleStage, lines, args.repeat),
        run_stage(PiiStage, lines, args.repeat),
        run_stage(SpamStage, lines, args.repeat),
        run_stage(PromptInjectionStage, lines, args.repeat),
    ]
    rows[0].name = "filter (all four)"
    rows[1].name = "rules only"
    rows += [] if args.no_peers else peers(texts, args.repeat)
    rows.insert(1, default_gc)

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:,.1f}"

    print()
    print(f"| {'detector':<22} | {'msgs/s wall':>12} | {'msgs/CPU-s':>12} | {'p50 us':>8} | "
          f"{'p99 us':>8} | {'p99.9 us':>8} |")  # fmt: skip
    print(f"|{'-' * 24}|{'-' * 13}:|{'-' * 13}:|{'-' * 9}:|{'-' * 9}:|{'-' * 9}:|")
    for row in rows:
        print(
            f"| {row.name:<22} | {row.per_s:>12,.0f} | {row.per_cpu_s:>12,.0f} | "
            f"{fmt(row.p50):>8} | {fmt(row.p99):>8} | {fmt(row.p999):>8} |"
        )
    print("(msgs/s: batches of 512; latencies: one message at a time, in microseconds)")
    for row in rows[6:]:
        print(
            f"filter (all four) vs {row.name}: {rows[0].per_cpu_s / row.per_cpu_s:.1f}x the "
            f"throughput per CPU second; rules only vs {row.name}: "
            f"{rows[2].per_cpu_s / row.per_cpu_s:.1f}x"
        )
    return CHECKS.report()


if __name__ == "__main__":
    raise SystemExit(main())
