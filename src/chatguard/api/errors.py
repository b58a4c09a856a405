"""The one place where exceptions become HTTP status codes. Callers' mistakes are 4xx; nothing a
caller sends can produce a 500."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from chatguard.errors import (
    AuthenticationError,
    BackpressureError,
    ChatguardError,
    ConflictError,
    DeadlinePassedError,
    InputTooLargeError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    StageUnavailableError,
    StoreUnavailableError,
)

log = logging.getLogger(__name__)

STATUS: list[tuple[type[ChatguardError], int, str]] = [
    (InputTooLargeError, 413, "input_too_large"),
    (InvalidInputError, 422, "invalid_input"),
    (ConflictError, 409, "conflict"),
    (NotFoundError, 404, "not_found"),
    (DeadlinePassedError, 408, "deadline_passed"),
    (StoreUnavailableError, 503, "database_unavailable"),
    (StageUnavailableError, 503, "unavailable"),
    (AuthenticationError, 401, "unauthorized"),
    (PermissionDeniedError, 403, "forbidden"),
    (RateLimitedError, 429, "rate_limited"),
    (BackpressureError, 429, "backpressure"),
]


def error_headers(exc: ChatguardError) -> dict[str, str] | None:
    """The headers a 401 and a 429 carry."""
    if isinstance(exc, AuthenticationError):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, (RateLimitedError, BackpressureError, StoreUnavailableError)):
        return {"Retry-After": str(exc.retry_after_s)}
    return None


def status_of(exc: ChatguardError) -> tuple[int, str]:
    for kind, status, name in STATUS:
        if isinstance(exc, kind):
            return status, name
    return 500, "internal_error"


def error_response(
    status: int,
    kind: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": kind, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ChatguardError)
    async def _domain(_: Request, exc: ChatguardError) -> JSONResponse:
        status, name = status_of(exc)
        if status == 500:
            log.error("unmapped chatguard error %s", type(exc).__name__)
            return error_response(500, name, "internal error")
        return error_response(status, name, str(exc), headers=error_headers(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # A bug, not the caller's doing: the project's error shape, never a stack trace.
        log.error("unexpected %s", type(exc).__name__, exc_info=exc)
        return error_response(500, "internal_error", "internal error")

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "malformed_json", "the request body is not valid JSON")
        # Never echo the input back: it may be huge or hold personal data.
        details = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ())),
                "problem": e.get("msg", "").removeprefix("Value error, "),
            }
            for e in errors[:20]
        ]
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:3])
        return error_response(422, "invalid_request", summary or "invalid request", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed", 413: "input_too_large"}.get(
            exc.status_code, "http_error"
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # RFC 9110: a 405 lists every method the resource has, not only the first route's.
            methods = allowed_methods(request)
            if methods:
                headers["Allow"] = ", ".join(methods)
        return error_response(exc.status_code, kind, str(exc.detail), headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """The methods of the resource the request's path names: those of every route with the
    most literal path among the matching ones, so `/policies/presets` is its own resource and
    not also `/policies/{channel_id}`."""
    by_path: dict[str, set[str]] = {}
    for route in _leaf_routes(request.app.router.routes):
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(request.scope)[0] is not Match.NONE:
            by_path.setdefault(route.path, set()).update(route_methods)
    if not by_path:
        return []
    resource = min(by_path, key=lambda path: path.count("{"))
    return sorted(by_path[resource])


def _leaf_routes(routes: Any) -> list[Any]:
    """Every route, those of included routers too (FastAPI may keep routers nested)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI flattens included routers itself
        return list(routes)
    return [getattr(c, "original_route", c) for c in iter_route_contexts(routes)]
