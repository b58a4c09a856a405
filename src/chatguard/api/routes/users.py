"""A user's record in a channel: strikes (all, and those still counting) and the next rung."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from chatguard.api.decision_deps import EngineDep
from chatguard.api.responses import DECISION
from chatguard.api.types import Identifier
from chatguard.decisions.records import as_dict
from chatguard.decisions.strikes import StrikeLadder
from chatguard.errors import StageUnavailableError

router = APIRouter(prefix="/users", tags=["users"], responses=DECISION)
Id = Annotated[Identifier, Path()]


@router.get("/{channel_id}/{user_id}")
async def user_record(channel_id: Id, user_id: Id, engine: EngineDep) -> dict[str, Any]:
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
