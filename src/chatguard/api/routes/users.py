"""A user's record in a channel: strikes (all, and those still counting) and the next rung
(moderator); erasing everything stored about the user in the channel (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from chatguard.api.decision_schemas import Reason
from chatguard.api.deps import ErasureDep, UsersDep
from chatguard.api.openapi import secured
from chatguard.api.responses import DECISION
from chatguard.api.security import AdminPrincipal, ModeratorPrincipal
from chatguard.api.types import Identifier
from chatguard.decisions.records import as_dict

router = APIRouter(prefix="/users", tags=["users"], responses=DECISION)
Id = Annotated[Identifier, Path()]


@router.get("/{channel_id}/{user_id}", responses=secured(422, 503))  # type: ignore[arg-type]
async def user_record(
    channel_id: Id, user_id: Id, users: UsersDep, principal: ModeratorPrincipal
) -> dict[str, Any]:
    """The user's strikes in the channel, how many still count, and the next rung."""
    standing = await users.standing(principal, channel_id, user_id)
    upcoming = standing.next_rung
    return {
        "channel_id": channel_id,
        "user_id": user_id,
        "active_strikes": len(standing.active),
        "decay_s": standing.decay_s,
        "next_rung": upcoming.rung.model_dump(mode="json") | {"position": upcoming.position},
        "strikes": [as_dict(s) | {"active": s in standing.active} for s in standing.strikes],
    }


@router.delete("/{channel_id}/{user_id}", responses=secured(422, 503))  # type: ignore[arg-type]
async def erase_user(
    channel_id: Id,
    user_id: Id,
    erasure: ErasureDep,
    principal: AdminPrincipal,
    reason: Annotated[Reason, Query()] = "",
) -> dict[str, Any]:
    """Erase the user's stored messages (with assessments and decisions), strikes, review
    items and labels in the channel; the audit log records who did it, with counts. Erasing a
    user with nothing stored answers zeros. Scope: admin."""
    report = await erasure.erase_user(principal, channel_id, user_id, reason=reason)
    return {"channel_id": channel_id, "user_id": user_id, "erased": report.counts()}
