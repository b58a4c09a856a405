"""`POST /moderate` and `POST /moderate/batch`."""

from __future__ import annotations

from fastapi import APIRouter

from chatguard.api.deps import ServiceDep
from chatguard.api.responses import errors
from chatguard.api.schemas import (
    ModerateBatchRequest,
    ModerateBatchResponse,
    ModerateRequest,
    ModerateResponse,
)

router = APIRouter(tags=["moderation"])
ERRORS = errors(400, 409, 413, 422)


@router.post("/moderate", response_model=ModerateResponse, responses=ERRORS)
async def moderate(body: ModerateRequest, service: ServiceDep) -> dict[str, object]:
    """Moderate one chat message and return the decision with its evidence."""
    outcome = await service.moderate(body.to_message())
    return outcome.response


@router.post(
    "/moderate/batch",
    response_model=ModerateBatchResponse,
    responses=ERRORS,
)
async def moderate_batch(body: ModerateBatchRequest, service: ServiceDep) -> dict[str, object]:
    """Moderate many messages in one pass of the cascade; results keep the input order."""
    outcomes = await service.moderate_batch([m.to_message() for m in body.messages])
    return {"results": [o.response for o in outcomes]}
