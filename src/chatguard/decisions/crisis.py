"""Telling a self-harm disclosure from an offence (pure; no state).

A speaker who says they may harm themselves ("i want to kill myself tonight") scores in
`self-harm` or `self-harm/intent`. Such a message is a call for help, not a violation: it is
held for a human with priority and never punished. Telling someone else to harm themselves
("kill yourself" at a player) scores `harassment/threatening` (the rule engine's term list and
the classifier both say so), and how-to content scores `self-harm/instructions`: either beside
a disclosure makes the message an offence, which the policy removes as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chatguard.decisions.policy import (
    CRISIS_COMPATIBLE,
    DISCLOSURE_CATEGORIES,
    CrisisConfig,
    Severity,
)
from chatguard.taxonomy import Category


@dataclass(frozen=True, slots=True)
class Disclosure:
    """The disclosure category that reached the worst severity, and that severity."""

    category: Category
    severity: Severity
    score: float

    def describe(self) -> str:
        return f"{self.category.value} scored {self.score:.2f} ({self.severity.value} severity)"


def crisis_disclosure(
    config: CrisisConfig,
    severities: Mapping[Category, Severity],
    scores: Mapping[Category, float],
    *,
    blocked: bool = False,
) -> Disclosure | None:
    """The disclosure in a message, given each watched category's severity and score; None when
    there is
    none at `config.min_severity` or above, or when an offence stands beside it (a category
    outside `CRISIS_COMPATIBLE` at any severity, or a blocked term)."""
    if not config.enabled or blocked:
        return None
    found = [
        (severity.rank, scores.get(category, 0.0), category.value, category)
        for category, severity in severities.items()
        if category in DISCLOSURE_CATEGORIES and severity.rank >= config.min_severity.rank
    ]
    if not found:
        return None
    offence = any(
        severity is not Severity.NONE and category not in CRISIS_COMPATIBLE
        for category, severity in severities.items()
    )
    if offence:
        return None
    rank, score, _, category = max(found)
    return Disclosure(category, list(Severity)[rank], score)
