"""Webhook deliveries: the dead-letter store (moderator) and retrying a dead letter by hand
(admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from chatguard.api.deps import WebhooksDep
from chatguard.api.openapi import secured
from chatguard.api.responses import DECISION
from chatguard.api.security import AdminPrincipal, ModeratorPrincipal
from chatguard.api.types import ShortId
from chatguard.decisions.records import Delivery, as_dict

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=DECISION)


def _view(delivery: Delivery) -> dict[str, Any]:
    view = as_dict(delivery)
    view.pop("body")  # events hold no message text, but the listing stays small
    return view


@router.get("/dead-letters", responses=secured(422, 503))  # type: ignore[arg-type]
async def dead_letters(
    webhooks: WebhooksDep,
    principal: ModeratorPrincipal,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Deliveries that failed every attempt."""
    found = await webhooks.dead_letters(principal, limit=limit)
    return {"dead_letters": [_view(d) for d in found]}


@router.post("/dead-letters/{delivery_id}/retry", responses=secured(404, 422, 503))  # type: ignore[arg-type]
async def retry(
    delivery_id: Annotated[ShortId, Path()],
    webhooks: WebhooksDep,
    principal: AdminPrincipal,
) -> dict[str, Any]:
    """Send a dead letter again."""
    return _view(await webhooks.retry(principal, delivery_id))
