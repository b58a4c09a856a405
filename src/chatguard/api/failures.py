"""ASGI middleware that turns an unexpected exception into a JSON 500 and logs it without its
message. Left alone, the server would log the full traceback, and an exception's message can
quote what the request carried (a database error quoting the row it could not write)."""

from __future__ import annotations

import logging
from typing import Any

from chatguard.api.errors import error_response
from chatguard.log_safety import describe_exception

log = logging.getLogger(__name__)


class InternalErrorBoundary:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            route = scope.get("route")
            where = getattr(route, "path", None) or "an unknown route"
            log.error(
                "internal error in %s %s: %s", scope.get("method"), where, describe_exception(exc)
            )
            if not started:  # past the start line the client only sees the connection end
                response = error_response(500, "internal_error", "internal error")
                await response(scope, receive, send)
