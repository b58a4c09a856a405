"""The one JSON form of events: `encode` writes it, `decode` reads it and names what is wrong
(an unknown type, an unsupported version, invalid fields) without echoing values."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter, ValidationError

from chatguard.errors import EventFormatError, UnknownEventTypeError, UnsupportedEventVersionError
from chatguard.events.model import SUPPORTED_VERSIONS, Event, EventBase

_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def encode(event: EventBase) -> str:
    """The event's JSON form (compact, UTF-8 text)."""
    return event.model_dump_json()


def to_data(event: EventBase) -> dict[str, Any]:
    """The event's JSON form as plain data (what `json.loads(encode(event))` gives)."""
    return event.model_dump(mode="json")


def decode(raw: str | bytes | dict[str, Any]) -> Event:
    """The event in `raw` (its JSON text or that text parsed). Raises `UnknownEventTypeError`,
    `UnsupportedEventVersionError` or `EventFormatError`."""
    data = _parsed(raw)
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in SUPPORTED_VERSIONS:
        raise UnknownEventTypeError("unknown event type" if kind else "event without a type")
    version = data.get("version")
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS[kind]:
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_VERSIONS[kind]))
        raise UnsupportedEventVersionError(
            f"{kind} events are read in version {supported}; this one has another"
        )
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise EventFormatError(f"invalid {kind} event: {', '.join(fields[:5])}") from None


def _parsed(raw: str | bytes | dict[str, Any]) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise EventFormatError("an event is a JSON object; this is not JSON") from None
    if not isinstance(data, dict):
        raise EventFormatError("an event is a JSON object")
    return data
