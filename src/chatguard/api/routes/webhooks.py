"""Webhook deliveries: the dead-letter store and retrying a dead letter by hand."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from chatguard.api.decision_deps import EngineDep
from chatguard.api.responses import DECISION, errors
from chatguard.api.types import ShortId
from chatguard.decisions.records import Delivery, as_dict
from chatguard.decisions.webhooks import DEAD
from chatguard.errors import StageUnavailableError

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=DECISION)


def _view(delivery: Delivery) -> dict[str, Any]:
    view = as_dict(delivery)
    view.pop("body")  # events hold no message text, but the listing stays small
    return view


@router.get("/dead-letters")
async def dead_letters(
    engine: EngineDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    if engine.repository is None:
        raise StageUnavailableError("webhooks need a database")
    found = await engine.repository.deliveries(status=DEAD, limit=limit)
    return {"dead_letters": [_view(d) for d in found]}


@router.post("/dead-letters/{delivery_id}/retry", responses=errors(404))
async def retry(delivery_id: Annotated[ShortId, Path()], engine: EngineDep) -> dict[str, Any]:
    if engine.webhooks is None:
        raise StageUnavailableError("no webhooks are configured")
    return _view(await engine.webhooks.retry_dead(delivery_id))
