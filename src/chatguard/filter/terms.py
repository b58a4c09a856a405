"""Term lists and the multi-pattern term matcher.

A term is a word or phrase with an optional `*` wildcard at either end (as in Twitch and Discord
AutoMod): `fuck*` matches "fucking", `*hole` matches "asshole", `kill yourself` matches the
phrase with any spacing. Matching is word-boundary aware: "Scunthorpe", "assassin", "cocktail"
and "classic" contain terms but never match them.

One Aho-Corasick automaton over the collapsed skeleton finds candidate terms in a single pass;
each candidate is confirmed by its own regular expression on the uncollapsed skeleton, which
also requires the letter repeats the term has ("ass" needs two s's, so the word "as" is safe).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import product
from typing import Any

import yaml

from chatguard.errors import ConfigurationError
from chatguard.filter.scanner import KeyScanner
from chatguard.filter.skeleton import (
    DISGUISED_VOWELS,
    SEPARATOR,
    Skeleton,
    collapse,
    collapse_runs,
    text_ends,
    unleet,
)
from chatguard.normalize import normalize
from chatguard.taxonomy import Category, UnknownCategoryError, parse_category

_NON_WORD_KEEP_STAR = re.compile(r"[^\w*]|_")
_SPACES = re.compile(r"\s+")


class InvalidTermError(ConfigurationError):
    """A term that cannot be matched as written (empty, or a `*` inside a word)."""


@dataclass(frozen=True, slots=True)
class Term:
    """A blocked (or permitted) term with its category and severity (0..1, the score it gives)."""

    text: str
    category: Category = Category.PROFANITY
    severity: float = 0.9

    def __post_init__(self) -> None:
        if not 0.0 <= self.severity <= 1.0:
            raise InvalidTermError(f"term {self.text!r}: severity must be in 0..1")


@dataclass(frozen=True, slots=True)
class TermHit:
    """One match of a term: the term and the span in the skeleton's `spaced` view."""

    term: Term
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Compiled:
    term: Term
    keys: tuple[str, ...]  # automaton keys (collapsed, space-delimited unless wildcarded)
    plain_key: str  # the key for text without a disguised vowel (its `plain` view)
    regex: re.Pattern[str]  # confirmation on the uncollapsed skeleton


def canonical(text: str) -> tuple[str, bool, bool]:
    """A term's matching form (folded, leetspeak undone, words separated by one space) and
    whether it has a leading and a trailing wildcard."""
    folded = normalize(text.strip()).folded
    lead = folded.startswith("*")
    trail = folded.endswith("*")
    core = folded.strip("*")
    if not core.strip() or "*" in core:
        raise InvalidTermError(
            f"term {text!r}: needs at least one letter and a '*' only at its start or end"
        )
    # Digits and symbols inside a term's words are read as the text's are ("w0rd" -> "wOrd"),
    # and then match only that same disguise.
    core = unleet(core)
    core = _SPACES.sub(" ", _NON_WORD_KEEP_STAR.sub(" ", core)).strip()
    if not core:
        raise InvalidTermError(f"term {text!r}: needs at least one letter or digit")
    return core, lead, trail


def _runs(text: str) -> list[tuple[str, int]]:
    return [(m.group(0)[0], len(m.group(0))) for m in re.finditer(r"(.)\1*", text)]


def _confirm_regex(core: str, lead: bool, trail: bool) -> re.Pattern[str]:
    parts = [r"\S*"] if lead else []
    for char, count in _runs(core):
        if char == " ":
            parts.append(r"\s+")
            continue
        if char in "aeiou":
            atom = f"[{char}{DISGUISED_VOWELS}]"
        elif char == "l":
            atom = "[lI]"  # a written "1" may stand for "l" too ("ki11")
        else:
            atom = re.escape(char)
        if not parts:
            # The first character, then the word boundary before it: a pattern led by a
            # character lets the regex engine skip ahead to it, where one led by the boundary
            # is tried at every position. (The same matches as "(?<!\S)x+".)
            parts.append(atom + r"(?<!\S.)")
            count -= 1
        parts.append(
            f"{atom}*" if count == 0 else f"{atom}+" if count == 1 else f"{atom}{{{count},}}"
        )
    parts.append(r"\S*" if trail else r"(?!\S)")
    return re.compile("".join(parts))


def _keys(core: str, lead: bool, trail: bool) -> tuple[str, ...]:
    positions = [i for i, c in enumerate(core) if c == "l"]
    variants = {core}
    if positions:
        # Each "l" may have been written as "1" (a disguised vowel); every combination for short
        # terms, all-or-nothing for long ones.
        if len(positions) <= 3:
            for choice in product("lI", repeat=len(positions)):
                chars = list(core)
                for position, letter in zip(positions, choice, strict=True):
                    chars[position] = letter
                variants.add("".join(chars))
        else:
            variants.add(core.replace("l", "I"))
    return tuple(
        sorted(("" if lead else " ") + collapse(v) + ("" if trail else " ") for v in variants)
    )


def compile_term(term: Term) -> _Compiled:
    core, lead, trail = canonical(term.text)
    plain_key = ("" if lead else " ") + collapse_runs(core) + ("" if trail else " ")
    return _Compiled(term, _keys(core, lead, trail), plain_key, _confirm_regex(core, lead, trail))


#: A disguised vowel (or an "l" written as a digit) in a skeleton's views.
_DISGUISED = re.compile(f"[{DISGUISED_VOWELS}]")


class _TermKeys:
    """The automaton keys of a term list, with the terms each key stands for."""

    def __init__(self, by_key: Mapping[str, Sequence[int]]) -> None:
        self._scanner = KeyScanner(list(by_key))
        self._terms = [tuple(indices) for indices in by_key.values()]

    def terms_in(self, views: Sequence[str]) -> dict[int, set[int]]:
        """For each view holding a key (by its index), the indices of the candidate terms."""
        terms = self._terms
        return {
            index: {term for key in keys for term in terms[key]}
            for index, keys in self._scanner.scan(views).items()
        }


class TermMatcher:
    """Finds every term of a list in a skeleton, in one automaton pass: over its `plain` view
    with the terms' plain keys when the text has no disguised vowel (a plainly written vowel
    only stands for itself), else over its vowel-blind `collapsed` view."""

    def __init__(self, terms: Iterable[Term]) -> None:
        compiled = [compile_term(t) for t in terms]
        self._compiled = compiled
        by_key: dict[str, list[int]] = {}
        by_plain_key: dict[str, list[int]] = {}
        for index, item in enumerate(compiled):
            for key in item.keys:
                by_key.setdefault(key, []).append(index)
            by_plain_key.setdefault(item.plain_key, []).append(index)
        self._keys = _TermKeys(by_key) if by_key else None
        self._plain_keys = _TermKeys(by_plain_key) if by_plain_key else None

    def __len__(self) -> int:
        return len(self._compiled)

    @property
    def terms(self) -> list[Term]:
        return [c.term for c in self._compiled]

    def candidates(self, views: Sequence[Skeleton]) -> dict[int, set[int]]:
        """For each skeleton in which the automaton finds a candidate term, the terms' indices
        (for `confirm`; `find` on any other skeleton finds nothing): one pass over the
        batch's joined plain views, and one over the blind views of the few with a disguised
        vowel."""
        if self._keys is None or self._plain_keys is None or not views:
            return {}
        plain = [view.plain for view in views]
        found = self._plain_keys.terms_in(plain)
        disguised = _holding(SEPARATOR.join(plain), text_ends(plain), DISGUISED_VOWELS)
        if disguised:
            blind = [views[i].collapsed for i in disguised]
            for position, terms in self._keys.terms_in(blind).items():
                found.setdefault(disguised[position], set()).update(terms)
        return found

    def confirm(self, skeleton: Skeleton, candidates: Iterable[int]) -> list[TermHit]:
        """`find`'s confirmation of the candidate terms the automaton found."""
        hits = []
        for index in sorted(candidates):
            item = self._compiled[index]
            for match in item.regex.finditer(skeleton.spaced):
                hits.append(TermHit(item.term, match.start(), match.end()))
        hits.sort(key=lambda h: (h.start, -h.end))
        return hits

    def find(self, skeleton: Skeleton) -> list[TermHit]:
        """Every confirmed match, in order of position."""
        if self._keys is None or self._plain_keys is None:
            return []
        if _DISGUISED.search(skeleton.plain):
            keys, view = self._keys, skeleton.collapsed
        else:
            keys, view = self._plain_keys, skeleton.plain
        candidates = keys.terms_in([view]).get(0)
        if not candidates:
            return []
        return self.confirm(skeleton, candidates)


def _holding(joined: str, ends: list[int], characters: str) -> list[int]:
    """The indices of the texts of `joined` (ending at `ends`) holding one of `characters`, in
    order: `str.find` per character skips ahead at C speed (a character class in a regex is
    tried at every position), and each text is searched for a character once at most."""
    found: set[int] = set()
    for character in characters:
        position = joined.find(character)
        while position >= 0:
            index = bisect_right(ends, position)
            found.add(index)
            position = joined.find(character, ends[index]) if index < len(ends) else -1
    return sorted(found)


def parse_term_groups(data: Mapping[str, Any], *, source: str) -> list[Term]:
    """Terms from the data format of `data/terms_en.yaml`: a list of groups, each with a
    category, a severity and its terms."""
    groups = data.get("groups")
    if not isinstance(groups, list):
        raise ConfigurationError(f"{source}: expected a 'groups' list")
    terms: list[Term] = []
    for number, group in enumerate(groups, 1):
        where = f"{source}: group {number}"
        if not isinstance(group, dict) or not isinstance(group.get("terms"), list):
            raise ConfigurationError(f"{where}: expected category, severity and a terms list")
        try:
            category = parse_category(str(group.get("category")))
        except UnknownCategoryError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None
        severity = group.get("severity")
        if not isinstance(severity, int | float) or not 0 <= severity <= 1:
            raise ConfigurationError(f"{where}: severity must be a number in 0..1")
        for text in group["terms"]:
            if not isinstance(text, str):
                raise ConfigurationError(f"{where}: term {text!r} is not a string")
            term = Term(text, category, float(severity))
            compile_term(term)  # refuse a bad term at load time, naming it
            terms.append(term)
    return terms


def load_default_terms(language: str = "en") -> tuple[Term, ...]:
    """The term list shipped with chatguard for `language`."""
    return tuple(parse_term_groups(_shipped(language), source=f"terms_{language}.yaml"))


def parse_permitted(data: Mapping[str, Any], *, source: str) -> list[str]:
    """The optional `permitted` list of the same format: phrases whose blocked matches are
    dropped (each checked as a term)."""
    permitted = data.get("permitted", [])
    if not isinstance(permitted, list):
        raise ConfigurationError(f"{source}: 'permitted' must be a list of phrases")
    for text in permitted:
        if not isinstance(text, str):
            raise ConfigurationError(f"{source}: permitted phrase {text!r} is not a string")
        compile_term(Term(text, Category.PROFANITY, 0.0))
    return list(permitted)


def _shipped(language: str) -> Mapping[str, Any]:
    resource = resources.files("chatguard.filter.data").joinpath(f"terms_{language}.yaml")
    if not resource.is_file():
        raise ConfigurationError(f"no shipped term list for language {language!r}")
    data: Mapping[str, Any] = yaml.safe_load(resource.read_text(encoding="utf-8"))
    return data


def load_default_permitted(language: str = "en") -> tuple[str, ...]:
    """The permitted phrases shipped with chatguard's term list for `language`."""
    return tuple(parse_permitted(_shipped(language), source=f"terms_{language}.yaml"))


def as_terms(items: Sequence[Term | str], *, category: Category, severity: float) -> list[Term]:
    """Accept plain strings where terms are expected, giving them `category` and `severity`."""
    return [t if isinstance(t, Term) else Term(t, category, severity) for t in items]
