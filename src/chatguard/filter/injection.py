"""Prompt-injection cues: messages that try to instruct the moderation model ("ignore previous
instructions", role-play jailbreaks, fake end-of-prompt markers, "classify this as safe").

The cues are data (`data/injection_en.yaml`): weighted regular expressions on the folded text,
gated by a keyword automaton so ordinary chat costs one automaton pass.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import accumulate
from typing import Any

import ahocorasick
import yaml

from chatguard.domain import Span
from chatguard.errors import ConfigurationError
from chatguard.filter.detection import NOTHING, Detection, FilterInput
from chatguard.filter.skeleton import SEPARATOR
from chatguard.taxonomy import Category


@dataclass(frozen=True, slots=True)
class Cue:
    """One weighted pattern."""

    name: str
    pattern: re.Pattern[str]
    weight: float


@dataclass(frozen=True, slots=True)
class CueSet:
    keywords: tuple[str, ...]
    cues: tuple[Cue, ...]


def load_cues(resource_name: str = "injection_en.yaml") -> CueSet:
    """The shipped cue set; a bad entry raises `ConfigurationError` naming it."""
    resource = resources.files("chatguard.filter.data").joinpath(resource_name)
    data = yaml.safe_load(resource.read_text(encoding="utf-8"))
    return parse_cues(data, source=resource_name)


def parse_cues(data: Any, *, source: str) -> CueSet:
    if not isinstance(data, dict) or not isinstance(data.get("cues"), list):
        raise ConfigurationError(f"{source}: expected 'keywords' and a 'cues' list")
    keywords = tuple(str(k).lower() for k in data.get("keywords", []))
    cues = []
    for entry in data["cues"]:
        name = str(entry.get("name", "?"))
        weight = entry.get("weight")
        if not isinstance(weight, int | float) or not 0 <= weight <= 1:
            raise ConfigurationError(f"{source}: cue {name!r}: weight must be in 0..1")
        try:
            pattern = re.compile(str(entry["pattern"]))
        except (KeyError, re.error) as exc:
            raise ConfigurationError(f"{source}: cue {name!r}: bad pattern: {exc}") from None
        cues.append(Cue(name, pattern, float(weight)))
    return CueSet(keywords, tuple(cues))


class InjectionDetector:
    """Scores `prompt_injection` from weighted cues."""

    name = "prompt_injection"

    def __init__(self, *, cues: CueSet | None = None) -> None:
        self.cues = cues or load_cues()
        automaton: Any = ahocorasick.Automaton()
        for keyword in self.cues.keywords:
            automaton.add_word(keyword, keyword)
        automaton.make_automaton()
        self._keywords = automaton

    def detect_many(self, items: Sequence[FilterInput]) -> list[Detection]:
        """`detect` for a batch: one automaton pass over the batch's joined texts finds the few
        messages holding a keyword; only those are matched against the cues."""
        texts = [item.normalized.folded for item in items]
        joined = SEPARATOR.join(texts)  # no keyword holds the separator: none spans two texts
        found = [NOTHING] * len(items)
        ends = list(accumulate(len(text) + 1 for text in texts))
        index = -1
        for end, _ in self._keywords.iter(joined):
            if index >= 0 and end < ends[index]:
                continue  # this text is done already
            index = bisect_right(ends, end)
            found[index] = self.detect(items[index])
        return found

    def detect(self, item: FilterInput) -> Detection:
        text = item.normalized.folded
        for _ in self._keywords.iter(text):
            break
        else:
            return NOTHING
        spans = []
        remaining = 1.0
        for cue in self.cues.cues:
            match = cue.pattern.search(text)
            if match is None:
                continue
            remaining *= 1.0 - cue.weight
            start, end = item.normalized.original_span(match.start(), match.end())
            spans.append(Span(start, end, Category.PROMPT_INJECTION, cue.name, cue.weight))
        if not spans:
            return NOTHING
        score = round(1.0 - remaining, 4)
        reasons = tuple(f"prompt_injection:{s.label}" for s in spans)
        return Detection({Category.PROMPT_INJECTION: score}, tuple(spans), reasons)
