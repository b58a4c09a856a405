"""`chatguard evaluate --dataset FILE`: run the configured pipeline over labeled data and report
AUPRC, F1, escalation rate, which stage decided, latency and throughput."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="measure the configured pipeline on a labeled JSONL dataset",
        description='Each line: {"text": str, "flagged": 0|1 (optional), '
        '"categories": {name: 0|1} (optional)}; flagged defaults to any category = 1.',
    )
    parser.add_argument("--dataset", required=True, type=Path, help="JSONL file")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first N records")
    parser.add_argument(
        "--batch-size", type=int, default=64, help="messages per pipeline pass (default 64)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chatguard.config import load_settings
    from chatguard.errors import InvalidInputError
    from chatguard.evaluation.runner import read_dataset, report, run_pipeline
    from chatguard.service import ModerationService

    if args.limit is not None and args.limit < 1:
        print("chatguard: --limit must be at least 1", file=sys.stderr)
        return 2
    if args.batch_size < 1:
        print("chatguard: --batch-size must be at least 1", file=sys.stderr)
        return 2
    try:
        records = read_dataset(args.dataset, limit=args.limit)
    except InvalidInputError as exc:
        print(f"chatguard: {exc}", file=sys.stderr)
        return 2
    service = ModerationService.from_settings(load_settings(), with_store=False)

    async def evaluate() -> dict[str, Any]:
        await service.pipeline.start()
        try:
            texts = [r.text for r in records]
            result = await run_pipeline(service.pipeline, texts, batch_size=args.batch_size)
            return report(records, result, service.pipeline)
        finally:
            await service.pipeline.close()

    figures = asyncio.run(evaluate())
    figures["dataset"] = str(args.dataset)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        _print_table(figures)
    return 0


def _print_table(figures: dict[str, Any]) -> None:
    flagged = figures["flagged"]
    print(f"dataset:          {figures['dataset']} ({figures['n']} messages)")
    print(f"stages:           {', '.join(figures['stages'])}")
    print(
        f"flagged:          AUPRC {_fmt(flagged['auprc'])}  F1 {flagged['f1']:.3f}  "
        f"precision {flagged['precision']:.3f}  recall {flagged['recall']:.3f}  "
        f"(threshold {_fmt(flagged['threshold'])}, {flagged['n_pos']} positive)"
    )
    for name, c in figures["categories"].items():
        print(f"  {name:<24} AUPRC {_fmt(c['auprc'])}  F1 {c['f1']:.3f}  ({c['n_pos']}/{c['n']})")
    print(f"escalation rate:  {figures['escalation_rate']:.2%}")
    decided = ", ".join(f"{k} {v:.1%}" for k, v in figures["decided_by"].items())
    print(f"decided by:       {decided}")
    lat = figures["latency_ms"]
    print(f"latency (ms):     p50 {lat['p50']:.2f}  p95 {lat['p95']:.2f}  p99 {lat['p99']:.2f}")
    print(f"throughput:       {figures['messages_per_second']} messages/s")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
