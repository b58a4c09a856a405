"""Channel policies: read, change (every change is a new version), reset, history, presets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from chatguard.api.decision_deps import EngineDep
from chatguard.api.decision_schemas import Actor, PolicyCheck, PolicyPut, Reason
from chatguard.api.responses import DECISION, errors
from chatguard.api.types import Identifier, RowNumber
from chatguard.decisions.policy_store import ResolvedPolicy
from chatguard.decisions.records import as_dict

router = APIRouter(prefix="/policies", tags=["policies"], responses=DECISION)
ChannelId = Annotated[Identifier, Path()]


def _view(resolved: ResolvedPolicy) -> dict[str, Any]:
    return {
        "channel_id": resolved.channel_id,
        "version": resolved.version,
        "defaults_version": resolved.defaults_version,
        "override": resolved.override,
        "policy": resolved.policy.model_dump(mode="json"),
    }


@router.get("/presets")
async def presets(engine: EngineDep) -> dict[str, Any]:
    """The named presets of the default policy file, fully resolved."""
    store = engine.policies
    return {
        "version": store.presets.version,
        "presets": {
            name: store.presets.resolve({"preset": name}).model_dump(mode="json")
            for name in store.presets.names
        },
    }


@router.post("/validate", responses=errors(400))
async def validate(body: PolicyCheck, engine: EngineDep) -> dict[str, Any]:
    """Check an override without storing it; 422 names the wrong field."""
    return {"policy": engine.policies.preview(body.policy).model_dump(mode="json")}


@router.get("/{channel_id}")
async def get_policy(channel_id: ChannelId, engine: EngineDep) -> dict[str, Any]:
    """The channel's policy in force (version 0: no override, the default preset)."""
    return _view(await engine.policies.get(channel_id))


@router.put("/{channel_id}", responses=errors(400, 404, 409))
async def put_policy(channel_id: ChannelId, body: PolicyPut, engine: EngineDep) -> dict[str, Any]:
    """Store a new version of the channel's override (validated first)."""
    resolved = await engine.policies.put(
        channel_id, body.policy, actor=body.actor, reason=body.reason
    )
    return _view(resolved)


@router.delete("/{channel_id}", responses=errors(404, 409))
async def reset_policy(
    channel_id: ChannelId,
    engine: EngineDep,
    actor: Annotated[Actor, Query()],
    reason: Annotated[Reason, Query()] = "",
) -> dict[str, Any]:
    """Remove the override (kept in the history as a new version): back to the default."""
    return _view(await engine.policies.reset(channel_id, actor=actor, reason=reason))


@router.get("/{channel_id}/versions")
async def versions(channel_id: ChannelId, engine: EngineDep) -> dict[str, Any]:
    """Every version of the channel's override, oldest first."""
    return {"versions": [as_dict(v) for v in await engine.policies.versions(channel_id)]}


@router.get("/{channel_id}/versions/{number}", responses=errors(404))
async def version(
    channel_id: ChannelId, number: Annotated[RowNumber, Path()], engine: EngineDep
) -> dict[str, Any]:
    return as_dict(await engine.policies.version(channel_id, number))
