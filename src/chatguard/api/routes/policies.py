"""Channel policies: read, change (every change is a new version), reset, history, presets.
Reading needs the moderator scope, changing the admin scope; the key's owner is the actor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from chatguard.api.decision_schemas import PolicyCheck, PolicyPut, Reason
from chatguard.api.deps import PoliciesDep
from chatguard.api.openapi import WITH_BODY, secured
from chatguard.api.responses import DECISION
from chatguard.api.security import AdminPrincipal, ModeratorPrincipal
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


@router.get("/presets", responses=secured(503))  # type: ignore[arg-type]
async def presets(policies: PoliciesDep, principal: ModeratorPrincipal) -> dict[str, Any]:
    """The named presets of the default policy file, fully resolved."""
    catalog = await policies.presets(principal)
    return {
        "version": catalog.version,
        "presets": {name: p.model_dump(mode="json") for name, p in catalog.presets.items()},
    }


@router.post("/validate", responses=secured(*WITH_BODY, 503))  # type: ignore[arg-type]
async def validate(
    body: PolicyCheck, policies: PoliciesDep, principal: ModeratorPrincipal
) -> dict[str, Any]:
    """Check an override without storing it; 422 names the wrong field."""
    return {"policy": (await policies.validate(principal, body.policy)).model_dump(mode="json")}


@router.get("/{channel_id}", responses=secured(422, 503))  # type: ignore[arg-type]
async def get_policy(
    channel_id: ChannelId, policies: PoliciesDep, principal: ModeratorPrincipal
) -> dict[str, Any]:
    """The channel's policy in force (version 0: no override, the default preset)."""
    return _view(await policies.get(principal, channel_id))


@router.put("/{channel_id}", responses=secured(*WITH_BODY, 404, 409, 503))  # type: ignore[arg-type]
async def put_policy(
    channel_id: ChannelId, body: PolicyPut, policies: PoliciesDep, principal: AdminPrincipal
) -> dict[str, Any]:
    """Store a new version of the channel's override (validated first). Scope: admin."""
    resolved = await policies.update(principal, channel_id, body.policy, reason=body.reason)
    return _view(resolved)


@router.delete("/{channel_id}", responses=secured(404, 409, 422, 503))  # type: ignore[arg-type]
async def reset_policy(
    channel_id: ChannelId,
    policies: PoliciesDep,
    principal: AdminPrincipal,
    reason: Annotated[Reason, Query()] = "",
) -> dict[str, Any]:
    """Remove the override (kept in the history as a new version): back to the default.
    Scope: admin."""
    return _view(await policies.reset(principal, channel_id, reason=reason))


@router.get("/{channel_id}/versions", responses=secured(422, 503))  # type: ignore[arg-type]
async def versions(
    channel_id: ChannelId, policies: PoliciesDep, principal: ModeratorPrincipal
) -> dict[str, Any]:
    """Every version of the channel's override, oldest first."""
    return {"versions": [as_dict(v) for v in await policies.versions(principal, channel_id)]}


@router.get("/{channel_id}/versions/{number}", responses=secured(404, 422, 503))  # type: ignore[arg-type]
async def version(
    channel_id: ChannelId,
    number: Annotated[RowNumber, Path()],
    policies: PoliciesDep,
    principal: ModeratorPrincipal,
) -> dict[str, Any]:
    """One version of the channel's override."""
    return as_dict(await policies.version(principal, channel_id, number))
