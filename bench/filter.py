"""Benchmark of the lightweight filter on real chat lines, with profanity-filter peers on the
same lines in the same run.

    .venv/bin/python bench/filter.py [--lines N] [--repeat R]

Figures: messages per second for batches (the filter stages over batches of 512, normalization
included), and per-message latency percentiles for one message at a time, in-process. Peers:
better-profanity (word list with leetspeak variants) and alt-profanity-check (a linear model
on TF-IDF). They only find profanity; the filter also runs PII, spam and prompt-injection
detection, so the "rules only" row is the like-for-like one. Install the peers with the `bench`
extra; a peer that cannot be imported is skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from chatguard.domain import Message
from chatguard.normalize import normalize
from chatguard.pipeline.stage import StageInput
from chatguard.stages.filter import DetectorStage, FilterStage
from chatguard.stages.pii import PiiStage
from chatguard.stages.prompt_injection import PromptInjectionStage
from chatguard.stages.rules import RuleStage
from chatguard.stages.spam import SpamStage

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SOURCES = ("twitch_chat.jsonl", "dota2_chat.jsonl")
BATCH = 512


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
    def __init__(self, name: str, per_s: float, lat_us: list[float] | None, note: str = ""):
        self.name, self.per_s, self.note = name, per_s, note
        lat = sorted(lat_us) if lat_us else []
        self.p50 = percentile(lat, 0.50) if lat else None
        self.p99 = percentile(lat, 0.99) if lat else None
        self.p999 = percentile(lat, 0.999) if lat else None


def run_stage(factory: Callable[[], DetectorStage], lines, repeat: int) -> Row:
    rates = []
    for run in range(repeat + 1):  # the first run warms caches up and is not counted
        stage = factory()
        batch_messages = messages(lines, 1e6 * (run + 1))
        started = time.perf_counter_ns()
        for offset in range(0, len(batch_messages), BATCH):
            chunk = batch_messages[offset : offset + BATCH]
            stage.assess_sync([StageInput(m, normalize(m.text)) for m in chunk])
        elapsed = time.perf_counter_ns() - started
        if run:
            rates.append(len(batch_messages) / (elapsed / 1e9))
    stage = factory()
    latencies = []
    for m in messages(lines, 9e6):
        started = time.perf_counter_ns()
        stage.assess_sync([StageInput(m, normalize(m.text))])
        latencies.append((time.perf_counter_ns() - started) / 1000)
    return Row(stage.name, statistics.median(rates), latencies)


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
    for text in texts:
        started = time.perf_counter_ns()
        one(text)
        latencies.append((time.perf_counter_ns() - started) / 1000)
    if batch is None:
        return Row(name, len(texts) / (sum(latencies) / 1e6), latencies)
    rates = []
    for run in range(repeat + 1):
        started = time.perf_counter_ns()
        for offset in range(0, len(texts), BATCH):
            batch(texts[offset : offset + BATCH])
        elapsed = time.perf_counter_ns() - started
        if run:
            rates.append(len(texts) / (elapsed / 1e9))
    return Row(name, statistics.median(rates), latencies)


def peers(texts: list[str], repeat: int) -> list[Row]:
    rows = []
    try:
        from better_profanity import profanity

        profanity.load_censor_words()
        rows.append(
            run_peer("better-profanity", None, profanity.contains_profanity, texts, repeat)
        )
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lines", type=int, default=4000, help="an even sample of N lines (0: all 12,261)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (median is shown)")
    args = parser.parse_args(argv)
    lines = load_lines(args.lines)
    texts = [t for _, t in lines]
    ascii_share = sum(t.isascii() for t in texts) / len(texts)
    print(
        f"{len(lines)} chat lines from {', '.join(SOURCES)}; {ascii_share:.0%} ASCII; "
        f"mean {statistics.mean(len(t) for t in texts):.0f} chars; python {sys.version.split()[0]}"
    )
    rows = [
        run_stage(FilterStage, lines, args.repeat),
        run_stage(RuleStage, lines, args.repeat),
        run_stage(PiiStage, lines, args.repeat),
        run_stage(SpamStage, lines, args.repeat),
        run_stage(PromptInjectionStage, lines, args.repeat),
    ]
    rows[0].name = "filter (all four)"
    rows[1].name = "rules only"
    rows += peers(texts, args.repeat)

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:,.1f}"

    print()
    print(f"| {'detector':<22} | {'msgs/s (batched)':>16} | {'p50 us':>8} | {'p99 us':>8} | "
          f"{'p99.9 us':>8} |")  # fmt: skip
    print(f"|{'-' * 24}|{'-' * 18}:|{'-' * 9}:|{'-' * 9}:|{'-' * 9}:|")
    for row in rows:
        print(
            f"| {row.name:<22} | {row.per_s:>16,.0f} | {fmt(row.p50):>8} | {fmt(row.p99):>8} | "
            f"{fmt(row.p999):>8} |"
        )
    base = rows[0].per_s
    for row in rows[5:]:
        print(f"filter (all four) vs {row.name}: {base / row.per_s:.1f}x the throughput")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
