"""`POST /filter` (the filter role) and `POST /adjudicate` (the llm-worker role): one of this
role's stages run on a batch another role sends, in the JSON form of `chatguard.roles.wire`.

A thin adapter: the stage is the in-process one, the answer is its results. Per-user state
(spam windows) lives here, in the role that runs the detectors. Scope: ingest (the caller is
the api role with its SERVICE_API_KEY)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from chatguard.api.deps import AppDep
from chatguard.api.openapi import WITH_BODY, secured
from chatguard.api.security import IngestPrincipal
from chatguard.app import Application
from chatguard.auth import Principal
from chatguard.config import FILTER_STAGES
from chatguard.errors import InvalidInputError
from chatguard.roles.remote import ADJUDICATE_PATH, FILTER_PATH
from chatguard.roles.wire import inputs_from_wire, result_to_wire

filter_router = APIRouter(tags=["roles"])
adjudicate_router = APIRouter(tags=["roles"])


class StageCall(BaseModel):
    """A batch for one stage: each item a stage input's JSON form."""

    model_config = ConfigDict(extra="forbid")

    stage: str = Field(default="filter", max_length=64, description="the stage to run")
    items: list[dict[str, Any]] = Field(min_length=1)


class StageAnswer(BaseModel):
    results: list[dict[str, Any]]


@filter_router.post(FILTER_PATH, responses=secured(*WITH_BODY, 503))  # type: ignore[arg-type]
async def run_filter(body: StageCall, app: AppDep, principal: IngestPrincipal) -> StageAnswer:
    """Run the lightweight filter (or the part of it named by `stage`) on a batch."""
    if body.stage not in FILTER_STAGES:
        raise InvalidInputError(
            f"stage must be one of the filter's: {', '.join(sorted(FILTER_STAGES))}"
        )
    return await _run(app, principal, body, FILTER_STAGES)


@adjudicate_router.post(ADJUDICATE_PATH, responses=secured(*WITH_BODY, 503))  # type: ignore[arg-type]
async def adjudicate(body: StageCall, app: AppDep, principal: IngestPrincipal) -> StageAnswer:
    """Adjudicate a batch of uncertain messages with the LLM stage."""
    if body.stage != "llm":
        raise InvalidInputError("stage must be 'llm'")
    return await _run(app, principal, body, {"llm"})


async def _run(
    app: Application, principal: Principal, body: StageCall, allowed: Collection[str]
) -> StageAnswer:
    items = inputs_from_wire(body.items)
    results = await app.stage_calls.run(principal, body.stage, items, allowed=allowed)
    return StageAnswer(results=[result_to_wire(r) for r in results])
