"""Webhook deliveries: the dead-letter store (moderator) and retrying a dead letter by hand
(admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from chatguard.api.decision_deps import EngineDep
from chatguard.api.openapi import secured
from chatguard.api.responses import DECISION
from chatguard.api.security import AdminPrincipal, ModeratorPrincipal
from chatguard.api.types import ShortId
from chatguard.decisions.records import Delivery, as_dict
from chatguard.decisions.webhooks import DEAD
from chatguard.errors import StageUnavailableError

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=DECISION)


def _view(delivery: Delivery) -> dict[str, Any]:
    view = as_dict(delivery)
    view.pop("body")  # events hold no message text, but the listing stays small
    return view


@router.get("/dead-letters", responses=secured(422, 503))  # type: ignore[arg-type]
async def dead_letters(
    engine: EngineDep,
    _: ModeratorPrincipal,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Deliveries that failed every attempt."""
    if engine.repository is None:
        raise StageUnavailableError("webhooks need a database")
    found = await engine.repository.deliveries(status=DEAD, limit=limit)
    return {"dead_letters": [_view(d) for d in found]}


@router.post("/dead-letters/{delivery_id}/retry", responses=secured(404, 422, 503))  # type: ignore[arg-type]
async def retry(
    delivery_id: Annotated[ShortId, Path()],
    engine: EngineDep,
    _: AdminPrincipal,
) -> dict[str, Any]:
    """Send a dead letter again."""
    if engine.webhooks is None:
        raise StageUnavailableError("no webhooks are configured")
    return _view(await engine.webhooks.retry_dead(delivery_id))
