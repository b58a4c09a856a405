"""`POST /moderate` and `POST /moderate/batch`."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request

from chatguard.api.deps import ServiceDep
from chatguard.api.openapi import WITH_BODY, secured
from chatguard.api.schemas import (
    ModerateBatchRequest,
    ModerateBatchResponse,
    ModerateRequest,
    ModerateResponse,
)
from chatguard.api.security import IngestPrincipal, access_of
from chatguard.auth import Principal, require_role_assertion

router = APIRouter(tags=["moderation"])
ERRORS = secured(*WITH_BODY, 409)


async def admit_messages(
    request: Request, principal: Principal, messages: Sequence[ModerateRequest]
) -> None:
    """Roles only from a key that may assert them; each chat user within their rate."""
    require_role_assertion(principal, asserted=any(m.roles for m in messages))
    await access_of(request).limiter.check_users((m.channel_id, m.user_id) for m in messages)


@router.post("/moderate", response_model=ModerateResponse, responses=ERRORS)  # type: ignore[arg-type]
async def moderate(
    body: ModerateRequest, request: Request, service: ServiceDep, principal: IngestPrincipal
) -> dict[str, object]:
    """Moderate one chat message and return the decision with its evidence. Scope: ingest.
    `roles` need a key made with `--assert-roles` (403 otherwise)."""
    await admit_messages(request, principal, [body])
    outcome = await service.moderate(body.to_message())
    return outcome.response


@router.post(
    "/moderate/batch",
    response_model=ModerateBatchResponse,
    responses=ERRORS,
)
async def moderate_batch(
    body: ModerateBatchRequest, request: Request, service: ServiceDep, principal: IngestPrincipal
) -> dict[str, object]:
    """Moderate many messages in one pass of the cascade; results keep the input order.
    Scope: ingest."""
    await admit_messages(request, principal, body.messages)
    outcomes = await service.moderate_batch([m.to_message() for m in body.messages])
    return {"results": [o.response for o in outcomes]}
