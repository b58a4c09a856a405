"""`chatguard train`: train the classifier on labeled JSONL/CSV files and write an artifact."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "train",
        help="train the classifier on labeled JSONL/CSV files",
        description="Read labeled files, map their labels onto the taxonomy, train, calibrate, "
        "choose router thresholds on a validation split and write a model directory "
        "(weights.npz + manifest.json).",
    )
    parser.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="PATH",
        help="a .jsonl/.csv file or a directory of them (repeatable)",
    )
    parser.add_argument(
        "--mapping",
        action="append",
        default=[],
        metavar="YAML",
        help="label mapping file(s) applied over the shipped one (repeatable)",
    )
    parser.add_argument("--out", required=True, type=Path, help="model directory to write")
    parser.add_argument("--name", default=None, help="model name (default: the --out folder name)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--eval-dir", type=Path, help="also write held-out rows per source here")
    parser.add_argument("--c", type=float, default=4.0, help="inverse L2 regularization strength")
    parser.add_argument("--buckets-log2", type=int, default=18, help="hashed feature space size")
    parser.add_argument("--min-positives", type=int, default=20, help="fewest positives for a head")
    parser.add_argument("--test-percent", type=int, default=20)
    parser.add_argument("--validation-percent", type=int, default=15)
    parser.add_argument("--act-precision", type=float, default=0.9)
    parser.add_argument(
        "--escalation-budget",
        type=float,
        default=0.02,
        help="largest uncertain share of each real-chat source's validation rows",
    )
    parser.add_argument(
        "--no-synthetic",
        action="store_true",
        help="train on the files alone, without the template-written sources",
    )
    parser.add_argument("--jobs", type=int, default=2, help="processes fitting heads")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print(
            "chatguard train needs the `train` extra: pip install 'chatguard[train]'",
            file=sys.stderr,
        )
        return 2
    from chatguard.classifier.calibration import ThresholdPolicy
    from chatguard.classifier.data import DEFAULT_MAPPING, SplitPlan, data_files, load_mapping
    from chatguard.classifier.features import FeatureConfig
    from chatguard.classifier.train import Progress, TrainConfig, train, write_eval_sets
    from chatguard.errors import InvalidInputError

    if not 0 <= args.test_percent + args.validation_percent < 100:
        print("chatguard: --test-percent + --validation-percent must be below 100", file=sys.stderr)
        return 2
    try:
        files = data_files(args.data)
        mappings = load_mapping(DEFAULT_MAPPING, *args.mapping)
    except InvalidInputError as exc:
        print(f"chatguard: {exc}", file=sys.stderr)
        return 2
    config = TrainConfig(
        name=args.name or args.out.name,
        features=FeatureConfig(
            buckets_log2=args.buckets_log2, target_cross=1, self_cross=2, mask_embedded=1
        ),
        c=args.c,
        min_positives=args.min_positives,
        plan=SplitPlan(args.test_percent, args.validation_percent),
        policy=ThresholdPolicy(
            act_precision=args.act_precision, escalation_budget=args.escalation_budget
        ),
        jobs=args.jobs,
    )
    if args.no_synthetic:
        config = dataclasses.replace(config, synthetic=())
    progress = Progress(None if args.quiet else sys.stderr)
    try:
        result = train(files, mappings, config, progress=progress)
    except InvalidInputError as exc:
        print(f"chatguard: {exc}", file=sys.stderr)
        return 2
    path = result.model.save(args.out)
    print(
        f"model written to {path} ({result.seconds:.1f}s); heads: {', '.join(result.model.heads)}"
    )
    for name, figures in result.model.manifest["metrics"]["validation"].items():
        print(f"  {name:<24} validation AUPRC {figures['auprc']}  (n_pos {figures['n_pos']})")
    if args.eval_dir is not None:
        counts = write_eval_sets(result.examples, args.eval_dir)
        print(
            f"held-out evaluation sets in {args.eval_dir}: "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
        )
    return 0
