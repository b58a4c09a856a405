"""Blocked and permitted terms of a channel, matched on normalized text at word boundaries
(the rule stage's way), so `k y s` tricks folded by `normalize` are caught here too."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from chatguard.domain import Span
from chatguard.normalize import normalize
from chatguard.taxonomy import Category

#: Where a channel's terms are pushed when its policy loads or changes:
#: `hook(channel_id, blocked_terms, permitted_terms)`. The lightweight filter's
#: `set_channel_terms` has this shape.
TermsHook = Callable[[str, Sequence[str], Sequence[str]], None]


class TakesChannelTerms(Protocol):
    """A rule engine that takes a channel's terms (the lightweight filter's `RuleEngine`)."""

    def set_channel_terms(
        self, channel_id: str, *, blocked: Sequence[str] = (), permitted: Sequence[str] = ()
    ) -> None: ...

    def clear_channel_terms(self, channel_id: str) -> None: ...


def push_terms_to(engines: Sequence[TakesChannelTerms]) -> TermsHook:
    """A terms hook feeding every given rule engine; no terms returns the channel to the
    engine's defaults."""

    def push(channel_id: str, blocked: Sequence[str], permitted: Sequence[str]) -> None:
        for engine in engines:
            if blocked or permitted:
                engine.set_channel_terms(channel_id, blocked=blocked, permitted=permitted)
            else:
                engine.clear_channel_terms(channel_id)

    return push


class TermMatcher:
    def __init__(self, blocked: Iterable[str], permitted: Iterable[str]) -> None:
        self.blocked = tuple(normalize(t).folded for t in blocked)
        self.permitted = frozenset(normalize(t).folded for t in permitted)
        self._pattern = _compile(self.blocked)

    def blocked_in(self, text: str) -> bool:
        if self._pattern is None:
            return False
        return self._pattern.search(normalize(text).folded) is not None

    def permitted_categories(self, text: str, spans: Sequence[Span]) -> set[Category]:
        """Categories whose every evidence span is a permitted term: their hits do not count."""
        if not self.permitted or not spans:
            return set()
        verdicts: dict[Category, bool] = {}
        for span in spans:
            allowed = normalize(text[span.start : span.end]).folded.strip() in self.permitted
            verdicts[span.category] = verdicts.get(span.category, True) and allowed
        return {c for c, allowed in verdicts.items() if allowed}


def _compile(terms: Sequence[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    alternatives = "|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])")
