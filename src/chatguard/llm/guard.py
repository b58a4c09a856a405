"""The guard rail: what an LLM verdict may lower, whatever the model and its answer format.

The LLM is an adviser that may be wrong or compromised (a message that instructs it, a model
that answers "safe" to everything). Its verdict replaces the fast tier's scores, within bounds
set by the fast tier's evidence:

- **injection**: when the fast tier found any prompt-injection cue, the verdict may raise
  scores but lower none, and the message goes to review;
- **strong evidence**: a category the fast tier scored at or above its act threshold, or in
  which a detector (a term, a rule) hit at or above `strong_span_at`, is not lowered; a verdict
  that would clear it sends the message to review instead;
- **bounded lowering**: any other category may drop at most `max_lowering` times the width of
  its uncertain band (act minus allow threshold) below the fast tier's score. When that floor
  keeps the category at or above its allow threshold, the LLM wanted to clear what it may not,
  and the message goes to review.

Raising is never bounded: a compromised LLM can over-moderate (and the review queue shows
it), but it cannot clear what the fast tier had good reason to doubt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from chatguard.domain import StageResult
from chatguard.pipeline.router import Thresholds
from chatguard.taxonomy import ALL_CATEGORIES, OPENAI_CATEGORIES, Category

#: Detector hits count as strong evidence only in the harm categories: profanity is "not
#: aimed at harming anyone", spam and PII are acted on by channel policy.
_STRONG_SPAN_CATEGORIES = frozenset(OPENAI_CATEGORIES)


@dataclass(frozen=True, slots=True)
class Bounded:
    """A verdict after the guard rail: the scores to use, whether a human must look, and why."""

    scores: dict[Category, float]
    review: bool = False
    #: Categories the rail kept from being lowered as far as the LLM said.
    held: tuple[Category, ...] = ()
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GuardRail:
    """Bounds on an LLM verdict, from the router's thresholds and the fast tier's evidence."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    #: How far below the fast tier's score the LLM may go, as a share of the category's
    #: uncertain band (0: not at all, 1: the whole band).
    max_lowering: float = 0.6
    #: A detector hit at or above this score in a harm category is strong evidence.
    strong_span_at: float = 0.6

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_lowering <= 1.0:
            raise ValueError("max_lowering must be in 0..1")
        if not 0.0 <= self.strong_span_at <= 1.0:
            raise ValueError("strong_span_at must be in 0..1")

    def injection_cue(
        self, fast: Mapping[Category, float], results: Sequence[StageResult]
    ) -> float | None:
        """The fast tier's prompt-injection evidence, or None when it found none."""
        spans = [
            s.score
            for r in results
            for s in r.spans
            if s.category is Category.PROMPT_INJECTION and r.error is None
        ]
        score = fast.get(Category.PROMPT_INJECTION, 0.0)
        if spans or score >= self.thresholds.allow_at(Category.PROMPT_INJECTION):
            return max([score, *spans])
        return None

    def strong(
        self, fast: Mapping[Category, float], results: Sequence[StageResult]
    ) -> dict[Category, str]:
        """Categories with strong fast-tier evidence, each with what made it strong."""
        found: dict[Category, str] = {}
        for category, score in fast.items():
            if score >= self.thresholds.act_at(category):
                found[category] = f"fast tier scored {score:.2f}, at its act threshold"
        for result in results:
            if result.error is not None:
                continue
            for span in result.spans:
                category = span.category
                if (
                    category in _STRONG_SPAN_CATEGORIES
                    and span.score >= self.strong_span_at
                    and category not in found
                ):
                    label = span.label or result.stage
                    found[category] = f"{label} hit at {span.score:.2f}"
        return found

    def floor(self, category: Category, fast_score: float) -> float:
        """The lowest score the LLM may give `category` when the fast tier said `fast_score`
        and has no strong evidence for it."""
        band = self.thresholds.act_at(category) - self.thresholds.allow_at(category)
        return max(0.0, fast_score - self.max_lowering * band)

    def bound(
        self,
        llm: Mapping[Category, float],
        fast: Mapping[Category, float],
        results: Sequence[StageResult] = (),
    ) -> Bounded:
        """The verdict `llm` (every category; a missing one counts as 0.0) within the bounds
        the fast tier's scores `fast` and its `results` set."""
        scores = {c: float(llm.get(c, 0.0)) for c in ALL_CATEGORIES}
        if not fast:
            return Bounded(scores)
        injection = self.injection_cue(fast, results)
        if injection is not None:
            held = tuple(c for c, s in fast.items() if scores[c] < s)
            for category in held:
                scores[category] = fast[category]
            reason = (
                f"guard rail: fast tier scored prompt_injection {injection:.2f}; "
                "an LLM verdict cannot clear it"
            )
            return Bounded(scores, True, held, (reason,))
        strong = self.strong(fast, results)
        held_list: list[Category] = []
        reasons: list[str] = []
        review = False
        for category, fast_score in fast.items():
            floor = fast_score if category in strong else self.floor(category, fast_score)
            if scores[category] >= floor:
                continue
            scores[category] = floor
            held_list.append(category)
            allow = self.thresholds.allow_at(category)
            if floor >= allow:
                # The LLM would have cleared what it may not: a human decides.
                review = True
                why = strong.get(category) or (
                    f"fast tier scored {fast_score:.2f}, "
                    f"the LLM may lower it to {floor:.2f} at most"
                )
                reasons.append(
                    f"guard rail: {category.value}: {why}; an LLM verdict cannot clear it"
                )
        return Bounded(scores, review, tuple(held_list), tuple(reasons))

    def distrusted(self, fast: Mapping[Category, float], why: str) -> Bounded:
        """The verdict of an answer that failed its check: nothing lowered, a human decides."""
        scores = {c: float(fast.get(c, 0.0)) for c in ALL_CATEGORIES}
        return Bounded(scores, True, (), (f"guard rail: {why}; the LLM verdict was not used",))
