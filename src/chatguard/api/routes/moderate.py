"""`POST /moderate` and `POST /moderate/batch`."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from chatguard.api.answers import batch_answer, moderate_answer
from chatguard.api.deps import AppDep
from chatguard.api.openapi import WITH_BODY, secured
from chatguard.api.schemas import (
    ModerateBatchRequest,
    ModerateBatchResponse,
    ModerateRequest,
    ModerateResponse,
)
from chatguard.api.security import IngestPrincipal

router = APIRouter(tags=["moderation"])
ERRORS = secured(*WITH_BODY, 409)


@router.post("/moderate", response_model=ModerateResponse, responses=ERRORS)  # type: ignore[arg-type]
async def moderate(
    body: ModerateRequest, app: AppDep, principal: IngestPrincipal
) -> Response | dict[str, object]:
    """Moderate one chat message and return the decision with its evidence. Scope: ingest.
    `roles` need a key made with `--assert-roles` (403 otherwise)."""
    outcome = await app.moderation.moderate(principal, body.to_message())
    return moderate_answer(outcome.response)


@router.post(
    "/moderate/batch",
    response_model=ModerateBatchResponse,
    responses=ERRORS,
)
async def moderate_batch(
    body: ModerateBatchRequest, app: AppDep, principal: IngestPrincipal
) -> Response | dict[str, object]:
    """Moderate many messages in one pass of the cascade; results keep the input order.
    Scope: ingest."""
    messages = [m.to_message() for m in body.messages]
    outcomes = await app.moderation.moderate_many(principal, messages)
    return batch_answer([o.response for o in outcomes])
