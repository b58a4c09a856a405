"""What every detector returns, and the one interface detectors share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from chatguard.domain import Message, Span
from chatguard.filter.skeleton import Skeleton, skeletons
from chatguard.filter.speedups import records
from chatguard.normalize import NormalizedText
from chatguard.taxonomy import Category

_NO_CONTEXT: Mapping[str, Any] = MappingProxyType({})


class FilterInput(NamedTuple):
    """One message as the detectors see it: the message, its normalized text and skeleton.
    (A named tuple: made once per message, the cheapest immutable record.)"""

    message: Message
    normalized: NormalizedText
    skeleton: Skeleton
    context: Mapping[str, Any] = _NO_CONTEXT


@dataclass(frozen=True, slots=True)
class Detection:
    """A detector's finding: scores per category, evidence spans (into the original text) and
    reasons. Reasons name the detector and the rule, never the message text."""

    scores: Mapping[Category, float] = field(default_factory=dict)
    spans: tuple[Span, ...] = ()
    reasons: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.scores)

    @staticmethod
    def merge(detections: Iterable[Detection]) -> Detection:
        """One detection holding the highest score per category and every span and reason."""
        scores: dict[Category, float] = {}
        spans: list[Span] = []
        reasons: list[str] = []
        for detection in detections:
            if not detection.scores and not detection.spans:
                continue
            for category, score in detection.scores.items():
                if score > scores.get(category, 0.0):
                    scores[category] = score
            spans.extend(detection.spans)
            reasons.extend(detection.reasons)
        if not scores and not spans:
            return NOTHING
        return Detection(scores, tuple(spans), tuple(dict.fromkeys(reasons)))


#: The detection of a detector that found nothing (shared: detections are immutable).
NOTHING = Detection()


class Detector(Protocol):
    """A synchronous detector: one message in, one detection out. A detector may also have
    `detect_many(items) -> list[Detection]`, the same results for a batch (see `detect_many`
    below), which is how the filter stages call it."""

    name: str

    def detect(self, item: FilterInput) -> Detection: ...


def detect_many(detector: Detector, items: Sequence[FilterInput]) -> list[Detection]:
    """`[detector.detect(i) for i in items]`, through the detector's batch form if it has one
    (a batch can be screened at C level before any per-message work)."""
    batch = getattr(detector, "detect_many", None)
    if batch is not None:
        return list(batch(items))
    return [detector.detect(item) for item in items]


def scores_from_spans(spans: Iterable[Span]) -> dict[Category, float]:
    """The highest span score per category."""
    scores: dict[Category, float] = {}
    for span in spans:
        if span.score > scores.get(span.category, 0.0):
            scores[span.category] = span.score
    return scores


def prepare(
    message: Message,
    normalized: NormalizedText | None = None,
    context: Mapping[str, Any] | None = None,
) -> FilterInput:
    """The detectors' view of a message (normalizes it unless that was done already)."""
    from chatguard.filter.skeleton import skeleton
    from chatguard.normalize import normalize

    normalized = normalized if normalized is not None else normalize(message.text)
    return FilterInput(message, normalized, skeleton(normalized), context or _NO_CONTEXT)


def prepare_many(
    messages: Sequence[Message],
    normalized: Sequence[NormalizedText],
    contexts: Sequence[Mapping[str, Any] | None],
) -> list[FilterInput]:
    """`prepare` for a batch: the skeletons are built together (see `skeletons`)."""
    views = skeletons(normalized)
    contexts = [c or _NO_CONTEXT for c in contexts]
    return records(FilterInput, (messages, normalized, views, contexts))  # type: ignore[no-any-return]
