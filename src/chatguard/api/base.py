"""What every chatguard HTTP app shares: the service's lifespan, error mapping, `/health`,
`/metrics` and the body size limit. Each role's app adds its own routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from chatguard import __version__
from chatguard.api.errors import install_error_handlers
from chatguard.api.failures import InternalErrorBoundary
from chatguard.api.limits import BodySizeLimit
from chatguard.api.request_check import RequestTargetCheck
from chatguard.api.responses import COMMON
from chatguard.api.routes import health
from chatguard.config import Settings
from chatguard.service import ModerationService


def service_app(
    *, title: str, description: str, settings: Settings, service: ModerationService
) -> FastAPI:
    """An app whose lifespan starts and stops `service`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(
        title=title,
        version=__version__,
        description=description,
        lifespan=lifespan,
        responses=COMMON,
    )
    app.state.service = service
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health.router)
    if settings.enable_metrics:
        app.include_router(health.metrics_router)
    # The last added runs first: the boundary catches what the others and the routes raise.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestTargetCheck)
    app.add_middleware(InternalErrorBoundary)
    return app
