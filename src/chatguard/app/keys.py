"""API keys: list, make (the secret is returned once and never stored) and revoke, each change
audited. Scope: admin; the principal's owner is the actor."""

from __future__ import annotations

from collections.abc import Iterable

from chatguard.app.access import ADMINISTER, require
from chatguard.auth import ApiKey, ApiKeyStore, Authenticator, NewKey, Principal, Scope
from chatguard.auth.admin import KeyAdmin
from chatguard.decisions.audit import AuditLog
from chatguard.decisions.repository import DecisionRepository
from chatguard.errors import StageUnavailableError
from chatguard.storage import SqlStore


class ApiKeys:
    def __init__(
        self,
        *,
        store: ApiKeyStore | None,
        audit: AuditLog | None = None,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        #: The authenticator of this process, told at once about new and revoked keys (other
        #: processes see a revocation within their cache time).
        self.authenticator = authenticator

    @classmethod
    def on_store(cls, store: SqlStore) -> ApiKeys:
        """Keys, with their audit entries, in the database of `store` (no running service:
        the command line's case)."""
        return cls(
            store=ApiKeyStore(engine=store.engine),
            audit=AuditLog(repository=DecisionRepository(engine=store.engine)),
        )

    async def list(self, principal: Principal) -> list[ApiKey]:
        """Every key, revoked ones included; never a secret."""
        require(principal, ADMINISTER)
        return await self._admin().list()

    async def create(
        self,
        principal: Principal,
        *,
        owner: str,
        scopes: Iterable[Scope | str],
        may_assert_roles: bool = False,
        rate_per_s: float | None = None,
    ) -> NewKey:
        require(principal, ADMINISTER)
        made = await self._admin().create(
            actor=principal.owner,
            owner=owner,
            scopes=scopes,
            may_assert_roles=may_assert_roles,
            rate_per_s=rate_per_s,
        )
        if self.authenticator is not None:
            self.authenticator.keys_changed()  # the first key ends open local mode
        return made

    async def revoke(self, principal: Principal, key_id: str) -> ApiKey:
        """Revoke a key for good (revoking it again changes nothing)."""
        require(principal, ADMINISTER)
        key = await self._admin().revoke(key_id, actor=principal.owner)
        if self.authenticator is not None:
            self.authenticator.forget(key_id)
        return key

    def _admin(self) -> KeyAdmin:
        if self.store is None:
            raise StageUnavailableError("API keys need a database")
        return KeyAdmin(store=self.store, audit=self.audit)
