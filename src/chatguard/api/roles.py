"""The HTTP app of each role (`chatguard serve --role ...`, docs/roles.md).

Every role is a `service_app`: the same lifespan, access rules (API keys beyond loopback, rate
limits), error mapping, `/health` and `/metrics`. What differs is the service's stages and the
routers:

- api: the moderation API (`create_app`), with the filter, LLM and decisions remote where
  FILTER_ENDPOINT, LLM_WORKER_ENDPOINT and DECISION_ENDPOINT name the roles serving them;
- filter: the lightweight filter's stages behind `POST /filter`;
- llm-worker: the LLM stage behind `POST /adjudicate` (needs LLM_ENDPOINT);
- decision: the decision handler (`create_decision_app`);
- simulator, evaluator: `/health`, `/metrics` and an index, for now.

Each role keeps a database connection (it verifies API keys against the key table); only the
api role sweeps old message text (RETENTION_DAYS).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI

from chatguard import __version__
from chatguard.api.app import create_app
from chatguard.api.base import service_app
from chatguard.api.decision_app import create_decision_app
from chatguard.api.routes.stage_calls import adjudicate_router, filter_router
from chatguard.config import FILTER_STAGES, Settings
from chatguard.errors import ConfigurationError
from chatguard.roles import require_role
from chatguard.service import ModerationService

#: What a role that calls no other role never does (it would call itself or a peer).
_NO_PEERS: dict[str, Any] = {
    "filter_endpoint": None,
    "decision_endpoint": None,
    "llm_worker_endpoint": None,
}


def role_settings(role: str, settings: Settings) -> Settings:
    """The settings `role` runs with: the api role's as given; every other role calls no
    other role, sweeps no text, and runs only the stages it serves."""
    require_role(role)
    if role == "api":
        return settings
    overrides: dict[str, Any] = {**_NO_PEERS, "retention_days": 0}
    configured = [n for n in settings.pipeline_stages.split(",") if n]
    if role == "filter":
        served = [n for n in configured if n in FILTER_STAGES]
        if not served or not settings.enable_lightweight_filter:
            raise ConfigurationError(
                "the filter role has no stage to serve: PIPELINE_STAGES names none of "
                f"{', '.join(sorted(FILTER_STAGES))}, or ENABLE_LIGHTWEIGHT_FILTER is false"
            )
        overrides["pipeline_stages"] = ",".join(served)
    elif role == "llm-worker":
        if settings.llm_endpoint is None:
            raise ConfigurationError("the llm-worker role needs LLM_ENDPOINT (the model server)")
        # The classifier's trained thresholds bound the LLM's verdicts (the guard rail), as
        # in the embedded server; the classifier itself is not served here.
        served = [n for n in configured if n == "classifier"] + ["llm"]
        overrides["pipeline_stages"] = ",".join(served)
    elif role in ("decision", "simulator", "evaluator"):
        # The decision role judges assessments made elsewhere: it runs no stage itself.
        overrides["pipeline_stages"] = ""
    return settings.model_copy(update=overrides)


def create_role_app(role: str, settings: Settings) -> FastAPI:
    """The app `chatguard serve --role <role>` runs."""
    settings = role_settings(role, settings)
    return _FACTORIES[role](settings)


def _role_service(settings: Settings) -> ModerationService:
    """The service of a role other than the api: the messages and their provisional decisions
    are the api role's, so only the api role finalises those an earlier run left (a second
    process doing it too would decide a message twice)."""
    service = ModerationService.from_settings(settings)
    if service.keeper is not None:
        service.keeper.recovery = None
    return service


def _stage_app(role: str, description: str, router: APIRouter) -> Callable[[Settings], FastAPI]:
    def build(settings: Settings) -> FastAPI:
        app = service_app(
            title=f"chatguard {role}",
            description=description,
            settings=settings,
            service=_role_service(settings),
            serves_calls_of=role,
        )
        app.include_router(router)
        return app

    return build


def _shell_app(role: str, description: str) -> Callable[[Settings], FastAPI]:
    def build(settings: Settings) -> FastAPI:
        app = service_app(
            title=f"chatguard {role}",
            description=description,
            settings=settings,
            service=_role_service(settings),
        )
        index = APIRouter(tags=["operations"])

        @index.get("/")
        async def root() -> dict[str, Any]:
            """What this role is and serves."""
            return {
                "service": "chatguard",
                "role": role,
                "version": __version__,
                "description": description,
                "endpoints": ["/health", "/metrics", "/docs"],
            }

        app.include_router(index)
        return app

    return build


_FACTORIES: dict[str, Callable[[Settings], FastAPI]] = {
    "api": lambda settings: create_app(settings),
    "filter": _stage_app(
        "filter",
        "The lightweight filter (rules, PII, spam, prompt injection) for the api role.",
        filter_router,
    ),
    "llm-worker": _stage_app(
        "llm-worker", "LLM adjudication of uncertain messages.", adjudicate_router
    ),
    "decision": lambda settings: create_decision_app(settings, _role_service(settings)),
    "simulator": _shell_app("simulator", "The chat simulator and web UI (to come)."),
    "evaluator": _shell_app("evaluator", "The metrics evaluator (to come)."),
}
