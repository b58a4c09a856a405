"""The audit log, newest first, filtered by channel, user or actor; page with `before_id`.
Scope: moderator."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from chatguard.api.deps import AuditDep
from chatguard.api.openapi import secured
from chatguard.api.responses import DECISION
from chatguard.api.security import ModeratorPrincipal
from chatguard.api.types import IdFilter, RowNumber
from chatguard.app import AuditQuery
from chatguard.decisions.records import as_dict

router = APIRouter(prefix="/audit", tags=["audit"], responses=DECISION)
Filter = Annotated[IdFilter | None, Query()]


@router.get("", responses=secured(422, 503))  # type: ignore[arg-type]
async def entries(
    audit: AuditDep,
    principal: ModeratorPrincipal,
    channel_id: Filter = None,
    user_id: Filter = None,
    actor: Filter = None,
    before_id: Annotated[RowNumber | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Audit entries, newest first; `actor` filters by the key owner who acted."""
    query = AuditQuery(
        channel_id=channel_id, user_id=user_id, actor=actor, before_id=before_id, limit=limit
    )
    found = await audit.entries(principal, query)
    return {"entries": [as_dict(e) for e in found]}
