"""Any input, however odd, gets an answer with spans inside the message and no exception."""

from __future__ import annotations

import random

import pytest
from helpers_filter import item

from chatguard.filter.injection import InjectionDetector
from chatguard.filter.pii import PiiDetector
from chatguard.filter.rules import RuleDetector
from chatguard.filter.spam import SpamDetector

DETECTORS = [RuleDetector(), PiiDetector(), InjectionDetector(), SpamDetector()]

ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?@$*|+-_/\\'\"\n\t"
    "ѕһіταеоυﬁßæœøłđ𝐟𝐮𝐜𝐤ｆｕｃｋ\u200b\u200d\u202e\u2066\u0301\u0308\u00ad😀🔥👀ä漢字한국어عربى"
)


def random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(ALPHABET, k=rng.randint(0, 120))) for _ in range(count)]


EDGE_CASES = [
    "",
    " ",
    "\u200b" * 50,
    "\u202e",
    "a" * 4000,
    "f u c k " * 300,
    "@" * 500,
    "1" * 500,
    "ß" * 100,
    "\U0001d41f" * 100,
    "s\u0301" * 200,
    "\x00\x01\x02",
    "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
]


@pytest.mark.parametrize("text", [pytest.param(t, id=f"edge{i}") for i, t in enumerate(EDGE_CASES)])
def test_edge_cases(text: str) -> None:
    check(text)


@pytest.mark.parametrize("seed", range(4))
def test_random_unicode(seed: int) -> None:
    for text in random_texts(300, seed):
        check(text)


def check(text: str) -> None:
    prepared = item(text)
    for detector in DETECTORS:
        detection = detector.detect(prepared)
        for span in detection.spans:
            assert 0 <= span.start <= span.end <= len(text), (detector.name, span)
        for score in detection.scores.values():
            assert 0.0 <= score <= 1.0
