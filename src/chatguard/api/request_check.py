"""ASGI middleware that refuses a request whose path or query string holds a character no id
or name may hold (`chatguard.input_rules`): one check for every route, before routing, so that
a NUL in `/policies/%00` or `?actor=%0d%0a` is a 422 on SQLite and PostgreSQL alike instead of
whatever the database makes of it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from chatguard.api.errors import error_response
from chatguard.input_rules import identifier_problem

Scope = dict[str, Any]
#: WebSocket close code for a request that breaks the rules (policy violation).
WS_POLICY_VIOLATION = 1008


class RequestTargetCheck:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        problem = target_problem(scope)
        if problem is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            field, message = problem
            details = [{"field": field, "problem": message}]
            response = error_response(422, "invalid_request", f"{field}: {message}", details)
            await response(scope, receive, send)
        else:
            await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION})


def target_problem(scope: Scope) -> tuple[str, str] | None:
    """The (field, problem) of the first character the path or the query may not hold."""
    problem = identifier_problem(scope.get("path", ""))
    if problem:
        return "path", problem
    query = scope.get("query_string", b"")
    if not query:
        return None
    # Decoded the way Starlette decodes it, so the check sees what the route would see.
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        shown = name if identifier_problem(name) is None and len(name) <= 40 else "<name>"
        for part in (name, value):
            problem = identifier_problem(part)
            if problem:
                return f"query.{shown}", problem
    return None
