"""Channel policies: the defaults from `defaults.yaml`, overrides per channel in the database.
Every change is a new version (nothing is overwritten), audited, and pushed to the terms hook."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from chatguard.decisions.audit import AuditLog
from chatguard.decisions.policy import ChannelPolicy
from chatguard.decisions.presets import Presets
from chatguard.decisions.records import PolicyVersion
from chatguard.decisions.repository import DecisionRepository
from chatguard.decisions.terms import TermMatcher, TermsHook
from chatguard.errors import ConfigurationError, InvalidPolicyError, NotFoundError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ResolvedPolicy:
    """A channel's policy in force, the override version it came from (0: the defaults) and
    the version of the defaults file."""

    channel_id: str
    policy: ChannelPolicy
    version: int
    defaults_version: int
    override: Mapping[str, Any] | None
    matcher: TermMatcher
    #: The stored override no longer resolves; the default preset is in force meanwhile.
    stale: bool = False

    @property
    def label(self) -> str:
        suffix = ", stored override invalid" if self.stale else ""
        return f"{self.policy.name} v{self.version} (defaults v{self.defaults_version}{suffix})"


class PolicyStore:
    def __init__(
        self,
        *,
        presets: Presets,
        repository: DecisionRepository | None = None,
        audit: AuditLog | None = None,
        on_terms: TermsHook | None = None,
        cache_ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.presets = presets
        self.repository = repository
        self.audit = audit
        self.on_terms = on_terms
        self.cache_ttl_s = cache_ttl_s
        self.clock = clock
        # Short-lived cache: other processes' changes show within cache_ttl_s.
        self._cache: dict[str, tuple[float, ResolvedPolicy]] = {}
        self._loading: dict[str, asyncio.Future[ResolvedPolicy]] = {}

    async def get(self, channel_id: str) -> ResolvedPolicy:
        cached = self._cache.get(channel_id)
        if cached is not None and self.clock() - cached[0] < self.cache_ttl_s:
            return cached[1]
        # One read per channel at a time: when the cache runs out under load, every request
        # of the channel would otherwise read the same row at once.
        loading = self._loading.get(channel_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load(channel_id, cached))
            self._loading[channel_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(channel_id, None))
        return await asyncio.shield(loading)

    async def _load(
        self, channel_id: str, cached: tuple[float, ResolvedPolicy] | None
    ) -> ResolvedPolicy:
        latest = await self.repository.latest_policy(channel_id) if self.repository else None
        try:
            resolved = self._resolve(channel_id, latest)
        except InvalidPolicyError as exc:
            # A stored override that no longer fits the defaults (a preset renamed, a field
            # retired) must not stop moderation: the channel runs on the default until fixed.
            log.error(
                "policy of channel %s v%s no longer resolves: %s",
                channel_id,
                latest.version if latest else 0,
                exc,
            )
            resolved = replace(
                self._resolve(channel_id, None),
                version=latest.version if latest else 0,
                stale=True,
            )
        self._remember(resolved, changed=cached is None or cached[1].version != resolved.version)
        return resolved

    def peek(self, channel_id: str) -> ResolvedPolicy | None:
        """The channel's last loaded policy, without a database round trip (None: not loaded)."""
        cached = self._cache.get(channel_id)
        return cached[1] if cached is not None else None

    def fallback(self, channel_id: str) -> ResolvedPolicy:
        """What decides while the database cannot be read: the channel's last loaded policy,
        however old, or else the default preset."""
        return self.peek(channel_id) or self._resolve(channel_id, None)

    def preview(self, document: Mapping[str, Any] | None) -> ChannelPolicy:
        """Validate an override without storing it."""
        return self.presets.resolve(_checked(document))

    async def put(
        self, channel_id: str, document: Mapping[str, Any], *, actor: str, reason: str = ""
    ) -> ResolvedPolicy:
        """Validate and store a new version of the channel's override."""
        override = _checked(document)
        policy = self.presets.resolve(override)  # refuses an invalid document before storing
        if self.on_terms is not None:
            # The rule engine has its own checks on terms; a term it refuses refuses the policy.
            try:
                self.on_terms(channel_id, policy.blocked_terms, policy.permitted_terms)
            except ConfigurationError as exc:
                raise InvalidPolicyError(f"invalid policy: blocked_terms: {exc}") from None
        return await self._store(
            channel_id, override, actor=actor, reason=reason, action="update", pushed=True
        )

    async def reset(self, channel_id: str, *, actor: str, reason: str = "") -> ResolvedPolicy:
        """Remove the override (as a new version): the channel is back on the default preset."""
        return await self._store(channel_id, None, actor=actor, reason=reason, action="reset")

    async def versions(self, channel_id: str) -> list[PolicyVersion]:
        if self.repository is None:
            return []
        return await self.repository.policy_versions(channel_id)

    async def version(self, channel_id: str, number: int) -> PolicyVersion:
        for version in await self.versions(channel_id):
            if version.version == number:
                return version
        raise NotFoundError(f"channel {channel_id!r} has no policy version {number}")

    async def _store(
        self,
        channel_id: str,
        override: dict[str, Any] | None,
        *,
        actor: str,
        reason: str,
        action: str,
        pushed: bool = False,
    ) -> ResolvedPolicy:
        if self.repository is None:
            raise NotFoundError("policies cannot be changed without a database")
        stored = await self.repository.add_policy_version(
            channel_id, override, actor=actor, reason=reason
        )
        resolved = self._resolve(channel_id, stored)
        self._remember(resolved, changed=not pushed)  # put() has pushed the terms already
        if self.audit is not None:
            await self.audit.record(
                actor=actor,
                action=f"policy.{action}",
                channel_id=channel_id,
                reason=reason,
                details={"version": stored.version, "document": override},
            )
        return resolved

    def _resolve(self, channel_id: str, stored: PolicyVersion | None) -> ResolvedPolicy:
        override = stored.document if stored is not None else None
        policy = self.presets.resolve(override)
        return ResolvedPolicy(
            channel_id=channel_id,
            policy=policy,
            version=stored.version if stored is not None else 0,
            defaults_version=self.presets.version,
            override=override,
            matcher=TermMatcher(policy.blocked_terms, policy.permitted_terms),
        )

    def _remember(self, resolved: ResolvedPolicy, *, changed: bool) -> None:
        self._cache[resolved.channel_id] = (self.clock(), resolved)
        if changed and self.on_terms is not None:
            policy = resolved.policy
            try:
                self.on_terms(resolved.channel_id, policy.blocked_terms, policy.permitted_terms)
            except ConfigurationError as exc:
                # A stored policy whose terms the rule engine now refuses: this module still
                # enforces its blocked terms itself; moderation goes on.
                log.error(
                    "terms of channel %s not taken by the rule engine: %s", resolved.channel_id, exc
                )


def _checked(document: Mapping[str, Any] | None) -> dict[str, Any]:
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise InvalidPolicyError("invalid policy: policy: must be a mapping")
    return dict(document)
