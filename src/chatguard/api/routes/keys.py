"""API keys over HTTP (scope: admin): list, make (the secret is in this answer only) and
revoke. `chatguard keys` does the same from the command line."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from chatguard.api.deps import KeysDep
from chatguard.api.openapi import WITH_BODY, secured
from chatguard.api.security import AdminPrincipal
from chatguard.api.types import Identifier, Number, ShortId
from chatguard.auth import Scope
from chatguard.auth.admin import key_view

router = APIRouter(prefix="/keys", tags=["keys"])
KeyId = Annotated[ShortId, Path()]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: Identifier = Field(
        description="who the key belongs to; recorded as the actor of what it does"
    )
    scopes: list[Scope] = Field(min_length=1, max_length=3)
    may_assert_roles: StrictBool = Field(
        default=False, description="may send exempt `roles` with messages (connectors)"
    )
    rate_per_s: Annotated[Number, Field(ge=0.001, le=1_000_000)] | None = Field(
        default=None, description="this key's own request rate limit, per second"
    )


@router.get("", responses=secured(503))  # type: ignore[arg-type]
async def list_keys(keys: KeysDep, principal: AdminPrincipal) -> dict[str, Any]:
    """Every key, revoked ones included; never a secret."""
    return {"keys": [key_view(k) for k in await keys.list(principal)]}


@router.post("", status_code=201, responses=secured(*WITH_BODY, 503))  # type: ignore[arg-type]
async def create_key(body: KeyCreate, keys: KeysDep, principal: AdminPrincipal) -> dict[str, Any]:
    """Make a key. `secret` is shown here once; only its digest is stored."""
    made = await keys.create(
        principal,
        owner=body.owner,
        scopes=body.scopes,
        may_assert_roles=body.may_assert_roles,
        rate_per_s=body.rate_per_s,
    )
    return key_view(made.key) | {"secret": made.secret}


@router.delete("/{key_id}", responses=secured(404, 422, 503))  # type: ignore[arg-type]
async def revoke_key(key_id: KeyId, keys: KeysDep, principal: AdminPrincipal) -> dict[str, Any]:
    """Revoke a key for good; this process refuses it at once, others within seconds."""
    return key_view(await keys.revoke(principal, key_id))
