"""The JSON form of a stage's input and result, as one role hands them to another.

A `StageInput` travels as its message (with the server's `received_at`, which the spam windows
run on), the scores and results so far, whether per-user state must be left alone, and, for
the LLM, a snapshot of the message's channel (recent lines, the user's strikes, the channel's
rules). The normalized text is not sent: the receiver normalizes the same text the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chatguard.channel import CHANNEL_CONTEXT, ChannelContext, ChannelMessage
from chatguard.domain import Message, Role, Span, StageResult
from chatguard.errors import InvalidInputError
from chatguard.normalize import normalize
from chatguard.pipeline.stage import StageInput
from chatguard.taxonomy import parse_category

#: The context key of `chatguard.service.STATELESS` (not imported: the service pulls in storage).
STATELESS_KEY = "stateless"


class WireFormatError(InvalidInputError):
    """A stage call's body that is not the JSON form described here."""


def message_to_wire(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "text": message.text,
        "user_id": message.user_id,
        "channel_id": message.channel_id,
        "roles": sorted(r.value for r in message.roles),
        "timestamp": message.timestamp,
        "received_at": message.received_at,
    }


def message_from_wire(data: Mapping[str, Any]) -> Message:
    return Message(
        text=str(data["text"]),
        user_id=str(data["user_id"]),
        channel_id=str(data["channel_id"]),
        id=str(data["id"]),
        roles=frozenset(Role(r) for r in data.get("roles", ())),
        timestamp=float(data["timestamp"]),
        received_at=float(data["received_at"]),
    )


def span_to_wire(span: Span) -> dict[str, Any]:
    return {
        "start": span.start,
        "end": span.end,
        "category": span.category.value,
        "label": span.label,
        "score": span.score,
    }


def span_from_wire(data: Mapping[str, Any]) -> Span:
    return Span(
        int(data["start"]),
        int(data["end"]),
        parse_category(str(data["category"])),
        str(data.get("label", "")),
        float(data.get("score", 1.0)),
    )


def result_to_wire(result: StageResult) -> dict[str, Any]:
    return {
        "stage": result.stage,
        "scores": {c.value: s for c, s in result.scores.items()},
        "spans": [span_to_wire(s) for s in result.spans],
        "reasons": list(result.reasons),
        "latency_ms": result.latency_ms,
        "error": result.error,
        "authoritative": result.authoritative,
        "review": result.review,
    }


def result_from_wire(data: Mapping[str, Any]) -> StageResult:
    error = data.get("error")
    return StageResult(
        stage=str(data["stage"]),
        scores={parse_category(c): float(s) for c, s in data.get("scores", {}).items()},
        spans=tuple(span_from_wire(s) for s in data.get("spans", ())),
        reasons=tuple(str(r) for r in data.get("reasons", ())),
        latency_ms=float(data.get("latency_ms", 0.0)),
        error=None if error is None else str(error),
        authoritative=bool(data.get("authoritative", False)),
        review=bool(data.get("review", False)),
    )


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    """One message's channel as the caller saw it: a `ChannelContext` for that channel and
    user only (what the LLM stage reads)."""

    channel_id: str
    user_id: str
    lines: tuple[ChannelMessage, ...] = ()
    strike_count: int = 0
    channel_rules: str | None = None

    def recent(self, channel_id: str, *, limit: int) -> list[ChannelMessage]:
        if channel_id != self.channel_id or limit <= 0:
            return []
        return list(self.lines[-limit:])

    def strikes(self, channel_id: str, user_id: str) -> int:
        same = channel_id == self.channel_id and user_id == self.user_id
        return self.strike_count if same else 0

    def rules(self, channel_id: str) -> str | None:
        return self.channel_rules if channel_id == self.channel_id else None


def _channel_to_wire(item: StageInput, limit: int) -> dict[str, Any] | None:
    context: ChannelContext | None = item.context.get(CHANNEL_CONTEXT)
    if context is None:
        return None
    message = item.message
    return {
        "recent": [
            {"message_id": m.message_id, "user_id": m.user_id, "text": m.text}
            for m in context.recent(message.channel_id, limit=limit)
        ],
        "strikes": context.strikes(message.channel_id, message.user_id),
        "rules": context.rules(message.channel_id),
    }


def _channel_from_wire(message: Message, data: Mapping[str, Any]) -> ChannelSnapshot:
    rules = data.get("rules")
    return ChannelSnapshot(
        channel_id=message.channel_id,
        user_id=message.user_id,
        lines=tuple(
            ChannelMessage(str(m["message_id"]), str(m["user_id"]), str(m["text"]))
            for m in data.get("recent", ())
        ),
        strike_count=int(data.get("strikes", 0)),
        channel_rules=None if rules is None else str(rules),
    )


def input_to_wire(item: StageInput, *, channel_lines: int = 0) -> dict[str, Any]:
    """`item` as JSON; `channel_lines` > 0 adds that many of the channel's recent lines (for a
    stage that reads the channel, the LLM)."""
    data: dict[str, Any] = {
        "message": message_to_wire(item.message),
        "scores": {c.value: s for c, s in item.scores.items()},
        "results": [result_to_wire(r) for r in item.results],
        "stateless": bool(item.context.get(STATELESS_KEY, False)),
    }
    if channel_lines > 0:
        data["channel"] = _channel_to_wire(item, channel_lines)
    return data


def input_from_wire(data: Mapping[str, Any]) -> StageInput:
    message = message_from_wire(data["message"])
    context: dict[str, Any] = {}
    if data.get("stateless"):
        context[STATELESS_KEY] = True
    channel = data.get("channel")
    if channel is not None:
        context[CHANNEL_CONTEXT] = _channel_from_wire(message, channel)
    return StageInput(
        message,
        normalize(message.text),
        {parse_category(c): float(s) for c, s in data.get("scores", {}).items()},
        tuple(result_from_wire(r) for r in data.get("results", ())),
        context,
    )


def inputs_from_wire(items: Sequence[Mapping[str, Any]]) -> list[StageInput]:
    """Every item of a stage call; any malformed one raises `WireFormatError` (no partial
    batch is judged)."""
    try:
        return [input_from_wire(item) for item in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise WireFormatError(f"malformed stage input: {type(exc).__name__}") from None


def results_from_wire(items: Sequence[Mapping[str, Any]]) -> list[StageResult]:
    try:
        return [result_from_wire(item) for item in items]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise WireFormatError(f"malformed stage result: {type(exc).__name__}") from None
