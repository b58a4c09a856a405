"""`chatguard train-semantic`: fit the semantic tier's heads and choose its blend."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "train-semantic",
        help="train the semantic tier's heads on labeled files and choose the blend",
        description="Embed the training data with the artifact's int8 encoder, fit one "
        "logistic head per target, calibrate on validation, choose per category the weight "
        "of the semantic score against the given linear model, and write heads.npz and the "
        "manifest into the artifact. Re-run it after the linear model changes.",
    )
    parser.add_argument(
        "--data", action="append", required=True, metavar="PATH", help="file or directory"
    )
    parser.add_argument("--mapping", action="append", default=[], metavar="YAML")
    parser.add_argument(
        "--artifact", type=Path, default=None, help="semantic artifact (default: the shipped one)"
    )
    parser.add_argument(
        "--linear-model", type=Path, default=None, help="linear model (default: the shipped one)"
    )
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache file (.npz)")
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 regularization")
    parser.add_argument("--min-gain", type=float, default=0.005)
    parser.add_argument("--max-traffic-loss", type=float, default=0.005)
    parser.add_argument(
        "--long-chars",
        type=int,
        default=None,
        help="messages of at least this many characters get weights of their own, blended "
        "whatever the linear model's certainty (0: the uncertain band only; default: the "
        "training configuration's)",
    )
    parser.add_argument(
        "--medium-chars",
        type=int,
        default=None,
        help="shorter messages of at least this many characters get weights of their own as "
        "well, blended whatever the linear model's certainty (0: no medium bucket; default: "
        "the training configuration's)",
    )
    parser.add_argument(
        "--keep-heads",
        action="store_true",
        help="keep the artifact's heads and choose the blend again (after a linear model "
        "change): only the validation rows are embedded",
    )
    parser.add_argument("--threads", type=int, default=2, help="encoder threads")
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("chatguard train-semantic needs the `train` extra", file=sys.stderr)
        return 2
    from chatguard.classifier.data import DEFAULT_MAPPING, data_files, load_mapping
    from chatguard.classifier.model import LinearModel, ModelLoadError
    from chatguard.classifier.stage import DEFAULT_MODEL
    from chatguard.classifier.train import Progress
    from chatguard.errors import InvalidInputError
    from chatguard.semantic.artifact import (
        DEFAULT_ARTIFACT,
        SemanticArtifact,
        SemanticArtifactError,
    )
    from chatguard.semantic.heads import SemanticHeads
    from chatguard.semantic.train import SemanticTrainConfig, train_semantic

    try:
        files = data_files(args.data)
        mappings = load_mapping(DEFAULT_MAPPING, *args.mapping)
        linear = LinearModel.load(args.linear_model or DEFAULT_MODEL)
        artifact = SemanticArtifact.load(args.artifact or DEFAULT_ARTIFACT, verify=False)
        heads = None
        if args.keep_heads:
            artifact.verify()
            heads = SemanticHeads.load(artifact)
        else:
            # Only the encoder and tokenizer must match: the heads are about to be replaced.
            artifact.manifest.pop("heads", None)
            artifact.verify()
    except (InvalidInputError, ModelLoadError, SemanticArtifactError) as exc:
        print(f"chatguard: {exc}", file=sys.stderr)
        return 2
    config = SemanticTrainConfig(
        c=args.c,
        min_gain=args.min_gain,
        max_traffic_loss=args.max_traffic_loss,
        long_min_chars=(
            SemanticTrainConfig().long_min_chars if args.long_chars is None else args.long_chars
        ),
        medium_min_chars=(
            SemanticTrainConfig().medium_min_chars
            if args.medium_chars is None
            else args.medium_chars
        ),
        threads=args.threads,
    )
    progress = Progress(None if args.quiet else sys.stderr)
    result = train_semantic(
        files,
        mappings,
        linear=linear,
        artifact=artifact,
        config=config,
        cache=args.cache,
        progress=progress,
        heads=heads,
    )
    print(f"semantic heads written to {artifact.path} ({result.seconds:.1f}s)")
    print(json.dumps(result.report, indent=2))
    return 0
