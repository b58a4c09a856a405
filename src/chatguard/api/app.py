"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from chatguard import __version__
from chatguard.api.decision_app import include_decision_routes
from chatguard.api.errors import install_error_handlers
from chatguard.api.limits import BodySizeLimit
from chatguard.api.routes import health, moderate, openai_compat
from chatguard.config import Settings, load_settings
from chatguard.service import ModerationService


def create_app(
    settings: Settings | None = None, service: ModerationService | None = None
) -> FastAPI:
    """Build the app. The service starts and stops with the app's lifespan."""
    settings = settings or load_settings()
    service = service or ModerationService.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(
        title="chatguard",
        version=__version__,
        description="Real-time moderation for streaming chat.",
        lifespan=lifespan,
        debug=False,
    )
    app.state.service = service
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(moderate.router)
    app.include_router(openai_compat.router)
    app.include_router(health.router)
    include_decision_routes(app)
    if settings.enable_metrics:
        app.include_router(health.metrics_router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
