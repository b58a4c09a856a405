"""LLM adjudication throughput: escalations per second and their latency through one
OpenAI-compatible endpoint, against the batch size (LLM_BATCH_SIZE) and the number of requests in
flight (LLM_CONCURRENCY).

Every message goes through the whole service (filter, classifier, router, `llm` stage, decider;
no store). The texts are real chat lines (../shared/data) that the current fast tier sends to
the LLM: candidates are routed through the fast tier first and only those it leaves uncertain
are kept, so the benchmark measures adjudication whatever the fast tier learns. Within a row
every text is distinct and the verdict cache is off, so each message costs the LLM work.

The endpoint is the local fake server from the tests (a transparent keyword judge answering
R1-style), timed by its latency model of a vLLM server: the prompt's tokens at a prefill rate,
then the reasoning and the answer at a per-sequence decode rate, at most `--slots` requests at
once (tests/support/fake_llm.py, docs/llm.md). A batch of 32 is a longer prompt and a longer
answer than one message, as on a GPU. `--latency S` switches to a fixed S seconds per request.

Each row is a closed loop that keeps the setting busy: batch x concurrency senders, each
sending a message, waiting for its decision, then sending the next, `--rounds` times.

    .venv/bin/python bench/llm.py                               # default model (about 5.5 min)
    .venv/bin/python bench/llm.py --decode-tps 600 --prefill-tps 50000   # a quick look

Checks: every row must have made LLM calls, and every message of it must have been decided by
the LLM without a stage error; otherwise the script prints what went wrong and exits 1, and
prints no best setting and no goal line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checks import Checks  # noqa: E402
from tests.support.fake_llm import (  # noqa: E402
    FakeLLMServer,
    add_latency_arguments,
    latency_model_from,
)

from chatguard.config import Settings, load_settings  # noqa: E402
from chatguard.domain import Message  # noqa: E402
from chatguard.service import STATELESS, ModerationService  # noqa: E402

NAME = "bench/llm.py"
#: Where the chat lines come from unless --data names a folder: the full data folder beside the
#: repository when there is one, else the samples shipped with the tests.
DATA = ROOT.parent / "shared" / "data"
SAMPLES = ROOT / "tests" / "fixtures" / "data"
CHAT_FILES = ("twitch_chat.jsonl", "dota2_chat.jsonl", "conda_dota2_chat.jsonl")


@dataclass(frozen=True)
class Setting:
    batch_size: int
    concurrency: int


@dataclass(frozen=True)
class Row:
    setting: Setting
    label: str
    messages: int
    wall_s: float
    latencies_s: list[float]
    calls: int
    decided_by_llm: int
    errors: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def per_s(self) -> float:
        return self.messages / self.wall_s

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def settings_for(url: str, setting: Setting, args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {
        "llm_endpoint": url,
        "llm_batch_size": setting.batch_size,
        "llm_batch_wait_ms": 20,
        "llm_concurrency": setting.concurrency,
        "llm_timeout": 600.0,  # a batch of 32 thinks for a while; this measures, it does not cut
        "llm_max_retries": 0,
        "llm_deadline_ms": 600_000,  # wait for the verdict: this measures the adjudicator
        "llm_cache_size": 0,  # distinct texts anyway; no verdict may come from a cache
        "llm_json_schema": True,
        "_env_file": None,
    }
    if args.stages:
        overrides["pipeline_stages"] = args.stages
    return load_settings(**overrides)


def chat_lines(folder: Path | None = None) -> list[str]:
    folder = folder or (DATA if DATA.is_dir() else SAMPLES)
    seen: set[str] = set()
    lines = []
    for name in CHAT_FILES:
        if not (folder / name).exists():
            continue
        with (folder / name).open(encoding="utf-8") as handle:
            for raw in handle:
                text = json.loads(raw)["text"]
                if text not in seen:
                    seen.add(text)
                    lines.append(text)
    return lines


async def escalated(
    service: ModerationService, candidates: Sequence[str], enough: int | None = None
) -> list[str]:
    """The candidates this service's fast tier leaves uncertain (routed to the LLM), stopping
    once `enough` distinct ones are found."""
    kept: list[str] = []
    for offset in range(0, len(candidates), 512):
        if enough is not None and len(set(kept)) >= enough:
            break
        chunk = [
            Message(text=t, user_id=f"pick{offset + i}", channel_id="pick")
            for i, t in enumerate(candidates[offset : offset + 512])
        ]
        run = await service.pipeline.begin(chunk, {STATELESS: True})
        waiting = set(run.waiting)
        run.provisional()  # the fast tier only: the LLM is not asked here
        kept += [m.text for m in chunk if m.id in waiting]
    return kept


async def choose_texts(url: str, args: argparse.Namespace, needed: int) -> list[str]:
    """`needed` distinct texts the pipeline escalates: real chat lines first, then numbered
    variants of them (each routed again) if the fast tier leaves too few uncertain."""
    service = ModerationService.from_settings(
        settings_for(url, Setting(1, 1), args), with_store=False
    )
    await service.start()
    try:
        if not any(s.escalation for s in service.pipeline.stages):
            print(
                f"texts: none; the pipeline ({', '.join(service.pipeline.stage_names)}) "
                "has no LLM stage"
            )
            return []
        lines = chat_lines(args.data)
        texts = await escalated(service, lines, needed)
        real = len(set(texts))
        round_ = 1
        while texts and len(set(texts)) < needed and round_ <= 20:
            variants = [f"{t} ({round_})" for t in texts[:real]]
            texts += await escalated(service, variants, needed)
            round_ += 1
        print(
            f"texts: {len(set(texts))} distinct ones that the fast tier "
            f"({', '.join(s.name for s in service.pipeline.stages if not s.escalation)}) routes "
            f"to the LLM: {real} real chat lines, the rest numbered variants of them"
        )
    finally:
        await service.close()
    return list(dict.fromkeys(texts))[:needed]


async def run_row(
    url: str,
    setting: Setting,
    texts: Sequence[str],
    args: argparse.Namespace,
    *,
    label: str,
    senders: int,
    rounds: int,
) -> Row:
    service = ModerationService.from_settings(settings_for(url, setting, args), with_store=False)
    await service.start()
    latencies: list[float] = []
    outcomes = []

    async def sender(number: int) -> None:
        for round_ in range(rounds):
            index = round_ * senders + number
            message = Message(
                text=texts[index % len(texts)], user_id=f"u{index}", channel_id="bench"
            )
            started = time.perf_counter()
            outcomes.append(await service.moderate(message))
            latencies.append(time.perf_counter() - started)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(sender(n) for n in range(senders)))
        wall = time.perf_counter() - started
        stage = next((s for s in service.pipeline.stages if s.name == "llm"), None)
        stats = getattr(getattr(stage, "client", None), "stats", None)
    finally:
        await service.close()
    return Row(
        setting,
        label,
        len(outcomes),
        wall,
        latencies,
        stats.calls if stats else 0,
        sum(1 for o in outcomes if o.response["decided_by"] == "llm"),
        sum(1 for o in outcomes if any(t["error"] for t in o.response["trail"])),
        stats.prompt_tokens if stats else 0,
        stats.completion_tokens if stats else 0,
    )


def check_row(checks: Checks, row: Row) -> bool:
    where = f"row {row.label!r}"
    ok = checks.expect(row.calls > 0, f"{where}: no LLM call was made")
    ok &= checks.expect(
        row.decided_by_llm == row.messages,
        f"{where}: {row.decided_by_llm} of {row.messages} messages decided by the LLM",
    )
    ok &= checks.expect(row.errors == 0, f"{where}: {row.errors} messages with stage errors")
    return ok


def print_table(rows: Sequence[Row], passed: set[int]) -> None:
    header = (
        f"| {'setting':<40} | {'msgs':>5} | {'calls':>5} | {'tokens/call in+out':>18} | "
        f"{'escalations/s':>13} | {'p50 s':>6} | {'p95 s':>6} | {'check':>5} |"
    )
    print(header)
    rule = ["-" * 42] + ["-" * (w - 1) + ":" for w in (7, 7, 20, 15, 8, 8)] + [":-----:"]
    print("|" + "|".join(rule) + "|")
    for i, r in enumerate(rows):
        calls = max(r.calls, 1)
        tokens = f"{r.prompt_tokens // calls} + {r.completion_tokens // calls}"
        print(
            f"| {r.label:<40} | {r.messages:>5} | {r.calls:>5} | {tokens:>18} | "
            f"{r.per_s:>13.2f} | {statistics.median(r.latencies_s):>6.2f} | "
            f"{r.pct(0.95):>6.2f} | {'ok' if i in passed else 'FAIL':>5} |"
        )


def best_of(rows: Sequence[Row]) -> tuple[Row, Row]:
    """The row with the most escalations/s, and the knee: the lowest p95 latency among the rows
    within 10% of that rate (batching past it buys little and costs latency)."""
    top = max(rows, key=lambda r: r.per_s)
    near = [r for r in rows if r.per_s >= 0.9 * top.per_s]
    knee = min(near, key=lambda r: (r.pct(0.95), r.setting.batch_size, r.setting.concurrency))
    return top, knee


def describe_endpoint(args: argparse.Namespace) -> str:
    if args.latency is not None:
        return f"a fixed {args.latency:g} s per request, {args.slots} slots"
    return (
        f"latency model: prefill {args.prefill_tps:g} tokens/s, decode {args.decode_tps:g} "
        f"tokens/s per sequence, reasoning {args.think_tokens} + "
        f"{args.think_tokens_per_message}/message tokens, jitter {args.jitter:g}, "
        f"{args.slots} slots"
    )


def integers(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=integers, default=[1, 4, 16, 32], help="batch sizes")
    parser.add_argument(
        "--concurrency", type=integers, default=[1, 8], help="requests in flight (comma list)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="messages per sender and row")
    parser.add_argument("--goal", type=float, default=100.0, help="escalations/s to aim for")
    parser.add_argument(
        "--stages", help="PIPELINE_STAGES for the service (default: the shipped default)"
    )
    parser.add_argument(
        "--texts",
        type=Path,
        help="use the texts of this file (one a line) as they are, without choosing escalated ones",
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="folder of chat JSONL files (default: ../shared/data if present, else the samples)",
    )
    add_latency_arguments(parser)
    return parser.parse_args(argv)


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = [Setting(b, c) for c in args.concurrency for b in args.batches]
    needed = max(s.batch_size * s.concurrency for s in settings) * args.rounds
    server = FakeLLMServer(
        latency_s=args.latency or 0.0,
        latency_model=latency_model_from(args),
        slots=args.slots,
        default="think_no_open",
    ).start()
    checks = Checks(NAME)
    rows: list[Row] = []
    try:
        print(f"endpoint: fake OpenAI-compatible server, {describe_endpoint(args)}")
        if args.texts:
            texts = [t for t in args.texts.read_text(encoding="utf-8").splitlines() if t]
            print(f"texts: {len(texts)} from {args.texts}, used as they are")
        else:
            texts = await choose_texts(server.url, args, needed)
        if not checks.expect(bool(texts), "no text to send: the pipeline escalates none"):
            return checks.report()
        checks.expect(
            len(texts) >= needed or args.texts is not None,
            f"only {len(texts)} distinct escalated texts for rows that need {needed}",
        )
        for setting in settings:
            senders = setting.batch_size * setting.concurrency
            label = f"batch {setting.batch_size}, {setting.concurrency} in flight"
            rows.append(
                await run_row(
                    server.url,
                    setting,
                    texts,
                    args,
                    label=label,
                    senders=senders,
                    rounds=args.rounds,
                )
            )
    finally:
        server.stop()
    passed = {i for i, r in enumerate(rows) if check_row(checks, r)}
    print(
        f"each row: batch x concurrency senders in a closed loop, {args.rounds} messages each; "
        "latency is each message's /moderate time"
    )
    print_table(rows, passed)
    grid = [r for i, r in enumerate(rows) if i in passed]
    if not checks.passed or not grid:
        checks.expect(bool(grid), "no row passed its checks")
        return checks.report()
    top, knee = best_of(grid)
    print(
        f"most escalations/s: LLM_BATCH_SIZE={top.setting.batch_size} "
        f"LLM_CONCURRENCY={top.setting.concurrency}: {top.per_s:.2f}/s, p95 {top.pct(0.95):.2f} s"
    )
    print(
        f"best setting (lowest p95 within 10% of the most): LLM_BATCH_SIZE="
        f"{knee.setting.batch_size} LLM_CONCURRENCY={knee.setting.concurrency}: "
        f"{knee.per_s:.2f}/s, p95 {knee.pct(0.95):.2f} s"
    )
    verdict = "met" if top.per_s >= args.goal else "NOT met"
    timing = "fixed latency" if args.latency is not None else "latency model"
    print(
        f"goal >= {args.goal:g} escalations/s through one {args.slots}-slot endpoint "
        f"({timing} above): {verdict} (best {top.per_s:.2f}/s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
