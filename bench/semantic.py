"""Throughput of the semantic tier's encoder alone (int8 all-MiniLM-L6-v2 on ONNX Runtime), on
short real chat messages and on long texts, for 1 and 2 encoder threads.

    .venv/bin/python bench/semantic.py [--messages 4000] [--long 300]

Texts are batched as the stage batches them (sorted by token count, 64 a batch). Checks: every
text gets a unit-length 384-d embedding and the heads score every text; otherwise exit 1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from checks import Checks

from chatguard.normalize import normalize
from chatguard.semantic.artifact import DEFAULT_ARTIFACT, SemanticArtifact
from chatguard.semantic.encoder import DIMENSIONS, SentenceEncoder
from chatguard.semantic.heads import SemanticHeads

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHORT_FILES = ("twitch_chat.jsonl", "dota2_chat.jsonl", "conda_dota2_chat.jsonl")
LONG_FILES = ("jigsaw.jsonl", "convabuse.jsonl", "toxicchat.jsonl")
REPEATS = 3
CHECKS = Checks("bench/semantic.py")


def texts_of(files: tuple[str, ...], count: int, *, min_chars: int = 0) -> list[str]:
    texts: list[str] = []
    for name in files:
        with (DATA / name).open(encoding="utf-8") as handle:
            texts.extend(
                t for t in (json.loads(line)["text"] for line in handle) if len(t) >= min_chars
            )
    rng = np.random.default_rng(0)
    return [normalize(texts[i]).folded for i in rng.integers(0, len(texts), count)]


def rate(encoder: SentenceEncoder, heads: SemanticHeads | None, texts: list[str]) -> float:
    started = time.perf_counter()
    vectors = encoder.encode(texts)
    seconds = time.perf_counter() - started
    CHECKS.expect(vectors.shape == (len(texts), DIMENSIONS), f"embeddings of shape {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1)
    CHECKS.expect(bool(np.allclose(norms, 1.0, atol=1e-3)), "embeddings are not unit length")
    if heads is not None:
        scores = heads.category_scores(vectors)
        CHECKS.expect(all(len(v) == len(texts) for v in scores.values()), "heads missed texts")
    return len(texts) / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--long", type=int, default=300)
    args = parser.parse_args()
    artifact = SemanticArtifact.load(DEFAULT_ARTIFACT)
    heads = SemanticHeads.load(artifact) if artifact.heads_path else None
    short = texts_of(SHORT_FILES, args.messages)
    long = texts_of(LONG_FILES, args.long, min_chars=600)
    size = artifact.encoder_path.stat().st_size / 2**20
    print(f"encoder {artifact.name}: {size:.1f} MiB, max {artifact.max_tokens} tokens")
    print(
        f"short: {len(short)} chat messages (median {statistics.median(map(len, short)):.0f} "
        f"chars); long: {len(long)} texts of 600+ chars (truncated to the token limit)"
    )
    print(f"{'what':<28}{'threads':>8}{'texts/s':>10}")
    for threads in (1, 2):
        encoder = SentenceEncoder.from_artifact(artifact, threads=threads)
        encoder.encode(short[:64])  # warm-up: first run allocates the session's buffers
        for label, texts in (("short chat messages", short), ("long texts", long)):
            value = statistics.median(rate(encoder, heads, texts) for _ in range(REPEATS))
            print(f"{label:<28}{threads:>8}{value:>10,.0f}")
    return CHECKS.report()


if __name__ == "__main__":
    raise SystemExit(main())
