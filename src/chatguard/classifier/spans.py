"""Spans of a message for the classifier: its sentences, and windows of words in long ones.

A linear model over the n-grams of a whole message averages its parts: a harmless opening
sentence dilutes an abusive one, and one disclosure inside a long paragraph weighs little. So
the model also scores each span, and the abusive categories take the highest of the whole and
its spans (see `LinearModel.logits`). A message of one span is scored once, as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

# Sentence ends, line breaks, and the separators chat logs put between a user's lines.
_BREAK = re.compile(r"(?<=[.!?])\s+|\s*\n\s*|\s*\[sepa\]\s*|\s+\|\s+")


@dataclass(frozen=True, slots=True)
class SpanConfig:
    """How messages are cut into spans, and which heads take the maximum over them. Stored in
    the model manifest; an empty `heads` turns spans off."""

    heads: tuple[str, ...] = ()
    #: A sentence longer than this many words is scored in windows of this size...
    window: int = 24
    #: ...that start every `stride` words.
    stride: int = 12
    #: Spans per message at most (the first ones; the featurizer reads 1,000 characters anyway).
    max_spans: int = 32
    #: Spans shorter than this many words join the next span, so "ok." alone is not a span.
    min_words: int = 2
    #: A span's logit counts less this much against the whole message's: a short span is
    #: noisier than the whole, and a long text has many chances for one to score high by luck.
    margin: float = 0.0

    @property
    def enabled(self) -> bool:
        return bool(self.heads)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["heads"] = list(self.heads)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SpanConfig:
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["heads"] = tuple(known.get("heads", ()))
        for key in ("window", "stride", "max_spans", "min_words"):
            if key in known:
                known[key] = int(known[key])
        if "margin" in known:
            known["margin"] = float(known["margin"])
        return cls(**known)


@dataclass(frozen=True, slots=True)
class SpanBatch:
    """The spans of a batch of texts: `texts[k]` is a span of text `owner[k]`."""

    texts: list[str] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)


def split_spans(text: str, config: SpanConfig) -> list[str]:
    """The spans of one (normalized) text; [] when the text is a single span."""
    pieces = [p for p in _BREAK.split(text) if p and not p.isspace()]
    merged: list[list[str]] = []
    pending: list[str] = []
    for piece in pieces:
        pending.extend(piece.split())
        if len(pending) >= config.min_words:
            merged.append(pending)
            pending = []
    if pending:
        if merged:
            merged[-1].extend(pending)
        else:
            merged.append(pending)
    spans: list[str] = []
    for words in merged:
        if len(words) <= config.window:
            spans.append(" ".join(words))
            continue
        last = max(len(words) - config.window, 0)
        starts = list(range(0, last + 1, config.stride))
        if starts[-1] != last:
            starts.append(last)
        spans.extend(" ".join(words[s : s + config.window]) for s in starts)
    if len(spans) <= 1:
        return []
    return spans[: config.max_spans]


def _may_break(text: str) -> bool:
    """A cheap screen for `_BREAK`: substring tests run in C, the regex only when one hits."""
    if "." in text or "!" in text or "?" in text or "\n" in text or "[sepa]" in text:
        return _BREAK.search(text) is not None
    return " | " in text


def span_batch(texts: Sequence[str], config: SpanConfig) -> SpanBatch:
    """Every span of every text that has more than one."""
    batch = SpanBatch()
    for index, text in enumerate(texts):
        # Most chat lines are one short sentence: no break and fewer words than a window.
        if text.count(" ") < config.window and not _may_break(text):
            continue
        for span in split_spans(text, config):
            batch.texts.append(span)
            batch.owner.append(index)
    return batch
