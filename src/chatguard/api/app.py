"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from chatguard.api.base import service_app
from chatguard.api.decision_app import include_decision_routes
from chatguard.api.routes import moderate, openai_compat
from chatguard.config import Settings, load_settings
from chatguard.service import ModerationService


def create_app(
    settings: Settings | None = None, service: ModerationService | None = None
) -> FastAPI:
    """Build the app. The service starts and stops with the app's lifespan."""
    settings = settings or load_settings()
    app = service_app(
        title="chatguard",
        description="Real-time moderation for streaming chat.",
        settings=settings,
        service=service or ModerationService.from_settings(settings),
    )
    app.include_router(moderate.router)
    app.include_router(openai_compat.router)
    if settings.decision_endpoint is None:
        # Otherwise the decision role serves policies, review and the rest (docs/roles.md).
        include_decision_routes(app)
    return app
