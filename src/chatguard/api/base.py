"""What every chatguard HTTP app shares: the service's lifespan, error mapping, access control
(API keys, rate limits, CORS), `/health`, `/metrics` and the body size limit. Each role's app
adds its own routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from chatguard import __version__
from chatguard.api.errors import install_error_handlers
from chatguard.api.failures import InternalErrorBoundary
from chatguard.api.limits import BodySizeLimit
from chatguard.api.query_check import known_query_only
from chatguard.api.request_check import RequestTargetCheck
from chatguard.api.responses import COMMON
from chatguard.api.routes import health
from chatguard.api.security import Access
from chatguard.app import Application
from chatguard.auth import ApiKeyStore, Authenticator
from chatguard.config import Settings
from chatguard.errors import ConfigurationError
from chatguard.ratelimit import RateLimiter
from chatguard.service import ModerationService

if TYPE_CHECKING:
    from chatguard.roles.streams import StreamCallServer

log = logging.getLogger(__name__)

OPEN_LOCAL_WARNING = (
    "no API keys: open to local callers only. Make one with "
    "`chatguard keys create --owner you --scope admin` before serving anyone else"
)


def build_access(settings: Settings, service: ModerationService) -> Access:
    store = ApiKeyStore(engine=service.store.engine) if service.store is not None else None
    return Access(
        authenticator=Authenticator(store=store, bootstrap=settings.admin_api_key),
        limiter=RateLimiter.from_settings(settings, registry=service.metrics.registry),
        settings=settings,
    )


def service_app(
    *,
    title: str,
    description: str,
    settings: Settings,
    service: ModerationService,
    serves_calls_of: str | None = None,
) -> FastAPI:
    """An app whose lifespan starts and stops `service`. It refuses to start on an address
    other than loopback while no admin key exists (see docs/security.md). `serves_calls_of`:
    the role whose work stream it also serves with `ROLE_TRANSPORT=redis` (docs/roles.md)."""
    access = build_access(settings, service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        calls = None
        try:
            problem = await access.authenticator.exposure_problem(settings.bind_host)
            if problem is not None:
                raise ConfigurationError(problem)
            if not await access.authenticator.keys_exist():
                log.warning(OPEN_LOCAL_WARNING)
            if serves_calls_of is not None and settings.role_transport == "redis":
                calls = await _serve_calls(serves_calls_of, settings, app)
            yield
        finally:
            if calls is not None:
                await calls.close()
                await calls.bus.close()
            await access.limiter.close()
            await service.close()

    app = FastAPI(
        title=title,
        version=__version__,
        description=description,
        lifespan=lifespan,
        responses=COMMON,
        dependencies=[Depends(known_query_only)],
    )
    app.state.service = service
    app.state.settings = settings
    app.state.access = access
    # Every route goes through the application layer; the HTTP limits of chat users apply.
    app.state.application = Application(
        service=service, authenticator=access.authenticator, user_rates=access.limiter
    )
    install_error_handlers(app)
    app.include_router(health.router)
    if settings.enable_metrics:
        app.include_router(health.metrics_router)
    # The last added runs first: the boundary catches what the others and the routes raise.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestTargetCheck)
    app.add_middleware(InternalErrorBoundary)
    if settings.cors_origin_list:  # off unless origins are listed
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After", "WWW-Authenticate"],
            max_age=600,
        )
    return app


async def _serve_calls(role: str, settings: Settings, app: FastAPI) -> StreamCallServer:
    from chatguard.roles.streams import StreamCallServer, call_bus

    key = settings.service_api_key.get_secret_value() if settings.service_api_key else None
    server = StreamCallServer(role=role, bus=call_bus(settings), app=app, api_key=key)
    await server.start()
    app.state.call_server = server
    return server
