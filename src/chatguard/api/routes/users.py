"""A user's record in a channel: strikes (all, and those still counting) and the next rung
(moderator); erasing everything stored about the user in the channel (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from chatguard.api.decision_deps import EngineDep
from chatguard.api.decision_schemas import Reason
from chatguard.api.deps import ServiceDep
from chatguard.api.openapi import secured
from chatguard.api.responses import DECISION
from chatguard.api.security import AdminPrincipal, ModeratorPrincipal
from chatguard.api.types import Identifier
from chatguard.decisions.erasure import UserEraser
from chatguard.decisions.records import as_dict
from chatguard.decisions.strikes import StrikeLadder
from chatguard.errors import StageUnavailableError

router = APIRouter(prefix="/users", tags=["users"], responses=DECISION)
Id = Annotated[Identifier, Path()]


@router.get("/{channel_id}/{user_id}", responses=secured(422, 503))  # type: ignore[arg-type]
async def user_record(
    channel_id: Id, user_id: Id, engine: EngineDep, _: ModeratorPrincipal
) -> dict[str, Any]:
    """The user's strikes in the channel, how many still count, and the next rung."""
    if engine.strikes is None:
        raise StageUnavailableError("strikes need a database")
    policy = (await engine.policies.get(channel_id)).policy
    ladder = StrikeLadder(policy.ladder)
    history = await engine.strikes.history(channel_id, user_id)
    active = ladder.active(history, engine.clock())
    upcoming = ladder.escalate(len(active))
    return {
        "channel_id": channel_id,
        "user_id": user_id,
        "active_strikes": len(active),
        "decay_s": policy.ladder.decay_s,
        "next_rung": upcoming.rung.model_dump(mode="json") | {"position": upcoming.position},
        "strikes": [as_dict(s) | {"active": s in active} for s in history],
    }


@router.delete("/{channel_id}/{user_id}", responses=secured(422, 503))  # type: ignore[arg-type]
async def erase_user(
    channel_id: Id,
    user_id: Id,
    engine: EngineDep,
    service: ServiceDep,
    principal: AdminPrincipal,
    reason: Annotated[Reason, Query()] = "",
) -> dict[str, Any]:
    """Erase the user's stored messages (with assessments and decisions), strikes, review
    items and labels in the channel; the audit log records who did it, with counts. Erasing a
    user with nothing stored answers zeros. Scope: admin."""
    if service.store is None:
        raise StageUnavailableError("erasure needs a database")
    eraser = UserEraser(engine=service.store.engine, audit=engine.audit)
    report = await eraser.erase(channel_id, user_id, actor=principal.owner, reason=reason)
    service.channels.forget_user(channel_id, user_id)  # the LLM's context in memory too
    return {"channel_id": channel_id, "user_id": user_id, "erased": report.counts()}
