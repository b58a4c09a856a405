"""Prompt-injection cues: recall on attacks and false positives on real chat.

    .venv/bin/python bench/injection.py

Recall on ../shared/data/prompt_injection.jsonl (Tensor Trust attacks, attacks only) and the
share of ordinary chat lines (twitch_chat, dota2_chat, conda_dota2_chat) scored at or above each
threshold. The router's default thresholds are 0.3 (clear below) and 0.85 (act at or above).
Exits 1 if a set is empty or no attack reaches the lowest threshold (the detector found nothing).
"""

from __future__ import annotations

import json
from pathlib import Path

from checks import Checks

from chatguard.domain import Message
from chatguard.filter.detection import prepare
from chatguard.filter.injection import InjectionDetector
from chatguard.taxonomy import Category

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
THRESHOLDS = (0.3, 0.5, 0.85)


def scores(detector: InjectionDetector, name: str) -> list[float]:
    with (DATA / name).open(encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle]
    return [
        detector.detect(prepare(Message(t, "u", "c"))).scores.get(Category.PROMPT_INJECTION, 0.0)
        for t in texts
    ]


def main() -> int:
    checks = Checks("bench/injection.py")
    detector = InjectionDetector()
    print("| set | rows | " + " | ".join(f">= {t}" for t in THRESHOLDS) + " |")
    print("|---|---:|" + "---:|" * len(THRESHOLDS))
    for name in ("prompt_injection.jsonl", "twitch_chat.jsonl", "dota2_chat.jsonl",
                 "conda_dota2_chat.jsonl"):  # fmt: skip
        values = scores(detector, name)
        if not checks.expect(bool(values), f"{name}: no rows"):
            continue
        shares = [sum(v >= t for v in values) / len(values) for t in THRESHOLDS]
        print(f"| {name} | {len(values)} | " + " | ".join(f"{s:.2%}" for s in shares) + " |")
        if name == "prompt_injection.jsonl":
            checks.expect(shares[0] > 0, f"{name}: no attack scored >= {THRESHOLDS[0]}")
    return checks.report()


if __name__ == "__main__":
    raise SystemExit(main())
