"""Blocked and permitted terms of a channel, matched on normalized text at word boundaries
(the rule stage's way), so `k y s` tricks folded by `normalize` are caught here too."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from chatguard.domain import Span
from chatguard.normalize import normalize
from chatguard.taxonomy import Category

#: Where a channel's terms are pushed when its policy loads or changes:
#: `hook(channel_id, blocked_terms, permitted_terms)`. The lightweight filter's
#: `set_channel_terms` has this shape.
TermsHook = Callable[[str, Sequence[str], Sequence[str]], None]


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
