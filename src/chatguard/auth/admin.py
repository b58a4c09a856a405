"""Making, listing and revoking keys, with an audit entry for each change (the CLI and the
HTTP routes both go through here)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chatguard.auth.keys import ApiKey, NewKey
from chatguard.auth.scopes import Scope
from chatguard.auth.store import ApiKeyStore
from chatguard.decisions.audit import HUMAN, AuditLog


def key_view(key: ApiKey) -> dict[str, Any]:
    """A key as plain data: everything but the secret, which is never stored."""
    return {
        "key_id": key.key_id,
        "owner": key.owner,
        "scopes": [s.value for s in key.scopes],
        "may_assert_roles": key.may_assert_roles,
        "rate_per_s": key.rate_per_s,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


class KeyAdmin:
    def __init__(self, *, store: ApiKeyStore, audit: AuditLog | None = None) -> None:
        self.store = store
        self.audit = audit

    async def create(
        self,
        *,
        actor: str,
        owner: str,
        scopes: Iterable[Scope | str],
        may_assert_roles: bool = False,
        rate_per_s: float | None = None,
    ) -> NewKey:
        made = await self.store.create(
            owner=owner, scopes=scopes, may_assert_roles=may_assert_roles, rate_per_s=rate_per_s
        )
        await self._audit(actor, "key.created", made.key)
        return made

    async def revoke(self, key_id: str, *, actor: str) -> ApiKey:
        before = await self.store.get(key_id)
        key = await self.store.revoke(key_id)
        if before.revoked_at is None:
            await self._audit(actor, "key.revoked", key)
        return key

    async def list(self) -> list[ApiKey]:
        return await self.store.list()

    async def _audit(self, actor: str, action: str, key: ApiKey) -> None:
        if self.audit is None:
            return
        view = key_view(key)
        await self.audit.record(
            actor=actor,
            kind=HUMAN,
            action=action,
            details={k: view[k] for k in ("key_id", "owner", "scopes", "may_assert_roles")},
        )
