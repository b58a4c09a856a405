"""The review queue: held messages, approve or deny, and the labels the outcomes leave.
Scope: moderator; the key's owner resolves the item."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from chatguard.api.decision_schemas import ReviewDecision
from chatguard.api.deps import ReviewDep
from chatguard.api.openapi import WITH_BODY, secured
from chatguard.api.responses import DECISION
from chatguard.api.security import ModeratorPrincipal
from chatguard.api.types import IdFilter, ShortId
from chatguard.decisions.records import ReviewStatus, as_dict

router = APIRouter(prefix="/review", tags=["review"], responses=DECISION)
ItemId = Annotated[ShortId, Path()]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("", responses=secured(422, 503))  # type: ignore[arg-type]
async def items(
    reviews: ReviewDep,
    principal: ModeratorPrincipal,
    channel_id: Annotated[IdFilter | None, Query()] = None,
    status: ReviewStatus | None = ReviewStatus.PENDING,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Held messages, oldest first (pending ones unless `status` says otherwise)."""
    found = await reviews.items(principal, channel_id=channel_id, status=status, limit=limit)
    return {"items": [as_dict(i) for i in found]}


@router.get("/labels", responses=secured(422, 503))  # type: ignore[arg-type]
async def labels(
    reviews: ReviewDep,
    principal: ModeratorPrincipal,
    channel_id: Annotated[IdFilter | None, Query()] = None,
    limit: Limit = 1000,
) -> dict[str, Any]:
    """Review outcomes as labels, for evaluation and retraining."""
    found = await reviews.labels(principal, channel_id=channel_id, limit=limit)
    return {"labels": [as_dict(label) for label in found]}


@router.get("/{item_id}", responses=secured(404, 422, 503))  # type: ignore[arg-type]
async def item(
    item_id: ItemId, reviews: ReviewDep, principal: ModeratorPrincipal
) -> dict[str, Any]:
    """One held (or resolved) message."""
    return as_dict(await reviews.item(principal, item_id))


@router.post("/{item_id}/approve", responses=secured(*WITH_BODY, 404, 409, 503))  # type: ignore[arg-type]
async def approve(
    item_id: ItemId, body: ReviewDecision, reviews: ReviewDep, principal: ModeratorPrincipal
) -> dict[str, Any]:
    """The message is fine: show it. 409 when it was resolved already."""
    return as_dict(await reviews.approve(principal, item_id, reason=body.reason))


@router.post("/{item_id}/deny", responses=secured(*WITH_BODY, 404, 409, 503))  # type: ignore[arg-type]
async def deny(
    item_id: ItemId, body: ReviewDecision, reviews: ReviewDep, principal: ModeratorPrincipal
) -> dict[str, Any]:
    """The message breaks the rules: remove it (or time out / ban), give the author a strike."""
    resolved = await reviews.deny(principal, item_id, reason=body.reason, action=body.rule())
    return as_dict(resolved)
