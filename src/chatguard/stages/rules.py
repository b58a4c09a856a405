"""A first rule stage: blocked terms matched on normalized text, at word boundaries."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatguard.domain import Span, StageResult
from chatguard.pipeline.stage import CpuStage, StageInput
from chatguard.taxonomy import Category

if TYPE_CHECKING:
    from chatguard.config import Settings


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    category: Category
    severity: float


DEFAULT_TERMS: tuple[Term, ...] = (
    Term("fuck", Category.PROFANITY, 0.6),
    Term("shit", Category.PROFANITY, 0.5),
    Term("kill yourself", Category.HARASSMENT_THREATENING, 1.0),
    Term("kys", Category.HARASSMENT_THREATENING, 0.95),
    Term("ignore previous instructions", Category.PROMPT_INJECTION, 0.9),
)


class RuleStage(CpuStage):
    """Finds blocked terms. It can act on a severe hit but never clears a message on its own."""

    name = "rules"

    def __init__(self, terms: Iterable[Term] = DEFAULT_TERMS, *, timeout_s: float = 0.5) -> None:
        super().__init__(timeout_s=timeout_s)
        self.terms = {t.text: t for t in terms}
        alternatives = "|".join(re.escape(t) for t in sorted(self.terms, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])")

    @classmethod
    def from_settings(cls, settings: Settings) -> RuleStage:
        return cls()

    def assess_sync(self, items: Sequence[StageInput]) -> list[StageResult]:
        return [self._assess_one(item) for item in items]

    def _assess_one(self, item: StageInput) -> StageResult:
        scores: dict[Category, float] = {}
        spans: list[Span] = []
        reasons: list[str] = []
        for match in self._pattern.finditer(item.normalized.folded):
            term = self.terms[match.group(0)]
            start, end = item.normalized.original_span(match.start(), match.end())
            spans.append(Span(start, end, term.category, "blocked_term", term.severity))
            scores[term.category] = max(term.severity, scores.get(term.category, 0.0))
            reasons.append(f"blocked term ({term.category.value})")
        return StageResult(self.name, scores, tuple(spans), tuple(reasons))
