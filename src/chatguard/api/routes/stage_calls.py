"""`POST /filter` (the filter role) and `POST /adjudicate` (the llm-worker role): one of this
role's stages run on a batch another role sends, in the JSON form of `chatguard.roles.wire`.

A thin adapter: the stage is the in-process one, the answer is its results. Per-user state
(spam windows) lives here, in the role that runs the detectors. Scope: ingest (the caller is
the api role with its SERVICE_API_KEY)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from chatguard.api.deps import ServiceDep
from chatguard.api.openapi import WITH_BODY, secured
from chatguard.api.security import IngestPrincipal
from chatguard.config import FILTER_STAGES
from chatguard.decisions import PolicyEngine
from chatguard.errors import (
    InputTooLargeError,
    InvalidInputError,
    StageUnavailableError,
    StoreUnavailableError,
)
from chatguard.pipeline.stage import Stage
from chatguard.roles.remote import ADJUDICATE_PATH, FILTER_PATH
from chatguard.roles.wire import inputs_from_wire, result_to_wire
from chatguard.service import ModerationService

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
async def run_filter(body: StageCall, service: ServiceDep, _: IngestPrincipal) -> StageAnswer:
    """Run the lightweight filter (or the part of it named by `stage`) on a batch."""
    if body.stage not in FILTER_STAGES:
        raise InvalidInputError(
            f"stage must be one of the filter's: {', '.join(sorted(FILTER_STAGES))}"
        )
    return await _run(service, body)


@adjudicate_router.post(ADJUDICATE_PATH, responses=secured(*WITH_BODY, 503))  # type: ignore[arg-type]
async def adjudicate(body: StageCall, service: ServiceDep, _: IngestPrincipal) -> StageAnswer:
    """Adjudicate a batch of uncertain messages with the LLM stage."""
    if body.stage != "llm":
        raise InvalidInputError("stage must be 'llm'")
    return await _run(service, body)


async def _run(service: ModerationService, body: StageCall) -> StageAnswer:
    stage = _served(service, body.stage)
    if len(body.items) > service.settings.max_batch_size:
        raise InputTooLargeError(
            f"batch of {len(body.items)} items; the limit is {service.settings.max_batch_size}"
        )
    items = inputs_from_wire(body.items)
    for item in items:
        service.validate(item.message)  # the limits and checks /moderate applies
    await _load_channel_terms(service, {item.message.channel_id for item in items})
    try:
        results = await asyncio.wait_for(stage.assess(items), timeout=stage.timeout_s)
    except TimeoutError:
        raise StageUnavailableError(
            f"stage {stage.name} timed out after {stage.timeout_s:g}s"
        ) from None
    except Exception as exc:  # the caller records the stage as failed and goes on
        raise StageUnavailableError(f"stage {stage.name} failed: {type(exc).__name__}") from None
    return StageAnswer(results=[result_to_wire(r) for r in results])


async def _load_channel_terms(service: ModerationService, channel_ids: set[str]) -> None:
    """Load each channel's policy (cached for seconds) before its messages are judged: loading
    pushes the channel's blocked and permitted terms to this role's rule engine, and here no
    decision is planned that would load it."""
    engine = service.decider
    if not isinstance(engine, PolicyEngine):
        return
    for channel_id in channel_ids:
        try:
            await engine.policies.get(channel_id)
        except StoreUnavailableError:
            return  # the database is away: the terms as they stand


def _served(service: ModerationService, name: str) -> Stage:
    for stage in service.pipeline.stages:
        if stage.name == name:
            return stage
    raise StageUnavailableError(f"this role does not run the {name} stage")
