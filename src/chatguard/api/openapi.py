"""The error responses each operation documents, so the OpenAPI document lists every status
code an operation can return, each with the error schema (and its headers)."""

from __future__ import annotations

from typing import Any

from chatguard.api.schemas import ErrorResponse

DESCRIPTIONS: dict[int, str] = {
    400: "The body is not valid JSON",
    401: "No API key, or one that is unknown, revoked or malformed",
    403: "The key lacks the scope this operation needs (or may not assert roles)",
    404: "No such object",
    408: "The deadline the caller sent passed before the work was done; nothing was written",
    409: "A conflict: a reused id, a review already resolved, a concurrent change",
    413: "The body, a message or a batch is larger than the configured limit",
    422: "A field is invalid; the message names it",
    429: "A rate limit was reached; retry after `Retry-After` seconds",
    503: "A part this operation needs is not available (the database, webhooks)",
}
HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: send `Authorization: Bearer <key>`",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "whole seconds to wait, at least 1",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}
#: What every protected operation can answer: no or a bad key, the wrong scope, too often.
SECURED = (401, 403, 429)
#: What an operation with a JSON body can answer besides its own.
WITH_BODY = (400, 413, 422)


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of an operation that can answer with these error codes."""
    documented: dict[int | str, dict[str, Any]] = {}
    for code in sorted(set(codes)):
        entry: dict[str, Any] = {"model": ErrorResponse, "description": DESCRIPTIONS[code]}
        if code in HEADERS:
            entry["headers"] = HEADERS[code]
        documented[code] = entry
    return documented


def secured(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`errors` plus 401, 403 and 429."""
    return errors(*SECURED, *codes)
