"""The error responses routes document in the OpenAPI schema, all in the one error shape
(`{"error": {"type", "message", "details"?}}`), so that clients and contract tests know every
status code an operation can answer with."""

from __future__ import annotations

from typing import Any

from chatguard.api.schemas import ErrorResponse

DESCRIPTIONS = {
    400: "The body is not valid JSON.",
    404: "No such object.",
    409: "A conflict: the id was used for something else, or the object changed meanwhile.",
    413: "The body, a message or a batch is over its limit.",
    422: "A field, a path or a query parameter breaks the input rules (see docs/privacy.md).",
    503: "A part this operation needs (the decision handler, the database) is unavailable.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` entry for these error status codes."""
    return {code: {"model": ErrorResponse, "description": DESCRIPTIONS[code]} for code in codes}


#: What any route can answer: the body limit and the path and query check apply to all.
COMMON = errors(413, 422)
#: What every decision-handler route can answer besides: the handler or its database is off.
DECISION = errors(422, 503)
