"""Prompt-injection cues: messages that try to instruct the moderation model ("ignore previous
instructions", role-play jailbreaks, fake end-of-prompt markers, "classify this as safe").

The cues are data (`data/injection_en.yaml`): weighted regular expressions on the folded text,
gated by a keyword automaton so ordinary chat costs one automaton pass.
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from chatguard.domain import Span
from chatguard.errors import ConfigurationError
from chatguard.filter.detection import NOTHING, Detection, FilterInput
from chatguard.filter.scanner import KeyScanner
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


def required_literals(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Strings of which every match of `pattern` holds at least one (read from the parsed
    pattern: a run of literal characters, or the alternatives of a group, each of which must
    hold one), or None when the pattern requires no literal text (or ignores case)."""
    if pattern.flags & re.IGNORECASE:
        return None
    return _required(sre_parse.parse(pattern.pattern, pattern.flags).data)


#: The most strings a run of literals and groups of plain alternatives is spelled out into.
_MOST_SPELLINGS = 512


def _required(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    options: list[frozenset[str]] = []
    # Consecutive literals and groups of plain alternatives ("(?:st|rd)", "\\.?") are spelled
    # out together: every match holds one of their spellings (" st", "rd. "), and longer
    # strings screen better.
    spellings = {""}
    for op, av in items:
        alternatives = [chr(av)] if op is sre.LITERAL else _alternatives(op, av)
        if alternatives is not None and len(spellings) * len(alternatives) <= _MOST_SPELLINGS:
            spellings = {head + tail for head in spellings for tail in alternatives}
            continue
        if spellings != {""}:
            options.append(frozenset(spellings))
            spellings = {""}
        needed = _required_one(op, av)
        if needed is not None:
            options.append(needed)
    if spellings != {""}:
        options.append(frozenset(spellings))
    options = [strings for strings in options if "" not in strings]
    if not options:
        return None
    # Any one requirement will do; the one with the longest shortest string screens best.
    return max(options, key=lambda strings: (min(map(len, strings)), -len(strings)))


def _alternatives(op: Any, av: Any) -> list[str] | None:
    """The strings a group of plain alternatives ("(?:st|rd)") or an optional literal ("\\.?")
    matches, or None."""
    if op is sre.MAX_REPEAT or op is sre.MIN_REPEAT:
        low, high, sub = av
        if low == 0 and high == 1 and len(sub.data) == 1 and sub.data[0][0] is sre.LITERAL:
            return ["", chr(sub.data[0][1])]
        return None
    if op is sre.SUBPATTERN:
        _, add_flags, _, sub = av
        if add_flags & sre.SRE_FLAG_IGNORECASE or len(sub.data) != 1:
            return None
        op, av = sub.data[0]
    if op is not sre.BRANCH:
        return None
    words = []
    for branch in av[1]:
        if not all(item_op is sre.LITERAL for item_op, _ in branch.data):
            return None
        words.append("".join(chr(code) for _, code in branch.data))
    return words


def _required_one(op: Any, av: Any) -> frozenset[str] | None:
    if op is sre.SUBPATTERN:
        _, add_flags, _, sub = av
        return None if add_flags & sre.SRE_FLAG_IGNORECASE else _required(sub.data)
    if op is sre.BRANCH:
        parts = [_required(branch.data) for branch in av[1]]
        if any(part is None for part in parts):
            return None
        return frozenset().union(*parts)  # type: ignore[arg-type]
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, _, sub = av
        return _required(sub.data) if low >= 1 else None
    if op is sre.IN and av and all(item_op is sre.LITERAL for item_op, _ in av):
        return frozenset(chr(code) for _, code in av)
    return None


class InjectionDetector:
    """Scores `prompt_injection` from weighted cues."""

    name = "prompt_injection"

    def __init__(self, *, cues: CueSet | None = None) -> None:
        self.cues = cues or load_cues()
        self._keywords = KeyScanner(self.cues.keywords)
        # Each cue is tried only on text holding one of its required strings (read from its
        # pattern); a cue that has none is always tried.
        self._always = frozenset(
            index
            for index, cue in enumerate(self.cues.cues)
            if required_literals(cue.pattern) is None
        )
        by_literal: dict[str, set[int]] = {}
        for index, cue in enumerate(self.cues.cues):
            for literal in required_literals(cue.pattern) or ():
                by_literal.setdefault(literal, set()).add(index)
        self._screen = KeyScanner(list(by_literal))
        self._screened = [frozenset(indices) for indices in by_literal.values()]

    def detect_many(self, items: Sequence[FilterInput]) -> list[Detection]:
        """`detect` for a batch: one automaton pass over the batch's joined texts finds the few
        messages holding a keyword, a second one over those the cues each may match."""
        texts = [item.normalized.folded for item in items]
        found = [NOTHING] * len(items)
        hit = sorted(self._keywords.scan(texts))
        if hit:
            literals = self._screen.scan([texts[i] for i in hit])
            for position, index in enumerate(hit):
                found[index] = self._match(items[index], literals.get(position, ()))
        return found

    def detect(self, item: FilterInput) -> Detection:
        text = item.normalized.folded
        if not self._keywords.scan([text]):
            return NOTHING
        return self._match(item, self._screen.scan([text]).get(0, ()))

    def _match(self, item: FilterInput, literals: Iterable[int]) -> Detection:
        """The cues' findings in a text holding a keyword and the screen's `literals`."""
        text = item.normalized.folded
        tried = set(self._always)
        for literal in literals:
            tried |= self._screened[literal]
        spans = []
        remaining = 1.0
        for index, cue in enumerate(self.cues.cues):
            if index not in tried:
                continue  # the text lacks every string the cue requires
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
