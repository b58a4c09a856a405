"""The audit log: every automated decision that does something and every human action, newest
first, filtered by channel, user or actor. Scope: moderator."""

from __future__ import annotations

from dataclasses import dataclass

from chatguard.app.access import MODERATE, require
from chatguard.auth import Principal
from chatguard.decisions.audit import AuditLog
from chatguard.decisions.records import AuditEntry


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of an audit listing; `before_id` pages back from an entry's id."""

    channel_id: str | None = None
    user_id: str | None = None
    actor: str | None = None
    before_id: int | None = None
    limit: int = 100


class Audit:
    def __init__(self, *, log: AuditLog) -> None:
        self.log = log

    async def entries(
        self, principal: Principal, query: AuditQuery | None = None
    ) -> list[AuditEntry]:
        require(principal, MODERATE)
        query = query or AuditQuery()
        return await self.log.entries(
            channel_id=query.channel_id,
            user_id=query.user_id,
            actor=query.actor,
            before_id=query.before_id,
            limit=query.limit,
        )
