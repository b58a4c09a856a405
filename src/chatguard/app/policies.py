"""Channel policies: read, validate, change (every change is a new version), reset, the
history, and the named presets. Reading needs the moderator scope, changing the admin scope;
the principal's owner is the actor recorded with each version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chatguard.app.access import ADMINISTER, MODERATE, require
from chatguard.auth import Principal
from chatguard.decisions.policy import ChannelPolicy
from chatguard.decisions.policy_store import PolicyStore, ResolvedPolicy
from chatguard.decisions.records import PolicyVersion


@dataclass(frozen=True, slots=True)
class PresetCatalog:
    """The default policy file's version and its named presets, fully resolved."""

    version: int
    presets: dict[str, ChannelPolicy]


class Policies:
    def __init__(self, *, store: PolicyStore) -> None:
        self.store = store

    async def presets(self, principal: Principal) -> PresetCatalog:
        require(principal, MODERATE)
        presets = self.store.presets
        return PresetCatalog(
            version=presets.version,
            presets={name: presets.resolve({"preset": name}) for name in presets.names},
        )

    async def validate(
        self, principal: Principal, document: Mapping[str, Any] | None
    ) -> ChannelPolicy:
        """The policy an override would give, without storing it; `InvalidPolicyError` names
        the wrong field."""
        require(principal, MODERATE)
        return self.store.preview(document)

    async def get(self, principal: Principal, channel_id: str) -> ResolvedPolicy:
        """The channel's policy in force (version 0: no override, the default preset)."""
        require(principal, MODERATE)
        return await self.store.get(channel_id)

    async def update(
        self,
        principal: Principal,
        channel_id: str,
        document: Mapping[str, Any],
        *,
        reason: str = "",
    ) -> ResolvedPolicy:
        """Store a new version of the channel's override, validated first."""
        require(principal, ADMINISTER)
        return await self.store.put(channel_id, document, actor=principal.owner, reason=reason)

    async def reset(
        self, principal: Principal, channel_id: str, *, reason: str = ""
    ) -> ResolvedPolicy:
        """Remove the override (kept in the history as a new version): back to the default."""
        require(principal, ADMINISTER)
        return await self.store.reset(channel_id, actor=principal.owner, reason=reason)

    async def versions(self, principal: Principal, channel_id: str) -> list[PolicyVersion]:
        """Every version of the channel's override, oldest first."""
        require(principal, MODERATE)
        return await self.store.versions(channel_id)

    async def version(self, principal: Principal, channel_id: str, number: int) -> PolicyVersion:
        """One version of the channel's override; `NotFoundError` if there is none."""
        require(principal, MODERATE)
        return await self.store.version(channel_id, number)
