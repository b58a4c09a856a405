"""The decision handler's HTTP surface: its routers (included in the main app) and an app of its
own for running the decision handler as a separate role (port 8003 by convention)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from chatguard.api.base import service_app
from chatguard.api.routes import audit, decide, keys, policies, review, users, webhooks, ws
from chatguard.config import Settings, load_settings
from chatguard.service import ModerationService

ROUTERS: tuple[APIRouter, ...] = (
    decide.router,
    policies.router,
    review.router,
    users.router,
    audit.router,
    webhooks.router,
    keys.router,
    ws.router,
)
DECISION_PORT = 8003


def include_decision_routes(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)


def create_decision_app(
    settings: Settings | None = None, service: ModerationService | None = None
) -> FastAPI:
    """The decision handler alone: /decide, policies, review, users, audit, webhooks, the event
    stream and /health; no /moderate (assessments come from the filter role)."""
    settings = settings or load_settings()
    app = service_app(
        title="chatguard decisions",
        description="Channel policies, strikes, review queue, audit log and action sinks.",
        settings=settings,
        service=service or ModerationService.from_settings(settings),
        serves_calls_of="decision",
    )
    include_decision_routes(app)
    return app
