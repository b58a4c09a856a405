"""The decision handler's HTTP surface: its routers (included in the main app) and an app of its
own for running the decision handler as a separate role (port 8003 by convention)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from chatguard.api.routes import audit, decide, policies, review, users, webhooks, ws
from chatguard.config import Settings

ROUTERS: tuple[APIRouter, ...] = (
    decide.router,
    policies.router,
    review.router,
    users.router,
    audit.router,
    webhooks.router,
    ws.router,
)
DECISION_PORT = 8003


def include_decision_routes(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)


def create_decision_app(settings: Settings | None = None) -> FastAPI:
    """The decision handler alone: /decide, policies, review, users, audit, webhooks, events,
    and /health (no /moderate: assessments come from the filter role)."""
    from chatguard.api.app import create_app

    app = create_app(settings)
    app.router.routes[:] = [
        r for r in app.router.routes if getattr(r, "path", "") not in _MODERATION_PATHS
    ]
    return app


_MODERATION_PATHS = frozenset({"/moderate", "/moderate/batch", "/v1/moderations"})
