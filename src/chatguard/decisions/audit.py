"""The audit log: every automated decision that does something and every human action (who,
what, when, why). Append-only: this class can only add and read."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from chatguard.decisions.records import AuditEntry
from chatguard.decisions.repository import DecisionRepository

log = logging.getLogger(__name__)

SYSTEM = "system"
HUMAN = "human"


class AuditLog:
    def __init__(
        self, *, repository: DecisionRepository, clock: Callable[[], float] = time.time
    ) -> None:
        self.repository = repository
        self.clock = clock

    def entry(
        self,
        *,
        actor: str,
        action: str,
        kind: str = HUMAN,
        channel_id: str | None = None,
        user_id: str | None = None,
        message_id: str | None = None,
        reason: str = "",
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """An entry stamped now, not yet stored (for callers that store it with other rows)."""
        return AuditEntry(
            at=self.clock(),
            actor=actor,
            actor_kind=kind,
            action=action,
            channel_id=channel_id,
            user_id=user_id,
            message_id=message_id,
            reason=reason,
            details=details or {},
        )

    async def record(self, **fields: Any) -> AuditEntry:
        """Append one entry, built from `entry`'s keyword arguments. `details` must hold ids,
        scores and settings, never message text."""
        entry = self.entry(**fields)
        stored = await self.repository.append_audit(entry)
        log.info(
            "audit %s %s by %s (%s)",
            entry.action,
            entry.message_id or entry.channel_id or "-",
            entry.actor,
            entry.actor_kind,
        )
        return stored

    async def entries(self, **filters: Any) -> list[AuditEntry]:
        """Newest first; filters: channel_id, user_id, actor, before_id, limit."""
        return await self.repository.audit_entries(**filters)
