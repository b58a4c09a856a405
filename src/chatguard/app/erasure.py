"""Erasing a chat user's data in a channel (stored messages with their assessments and
decisions, strikes, review items and labels), and the retention sweep of old message text.
Scope: admin; the audit log records who erased what."""

from __future__ import annotations

from chatguard.app.access import ADMINISTER, require
from chatguard.auth import Principal
from chatguard.channel import ChannelMemory
from chatguard.decisions.audit import AuditLog
from chatguard.decisions.erasure import ErasureReport, UserEraser
from chatguard.errors import StageUnavailableError
from chatguard.retention import RetentionJob, RetentionReport
from chatguard.storage import SqlStore


class Erasure:
    def __init__(
        self,
        *,
        store: SqlStore | None,
        audit: AuditLog | None,
        channels: ChannelMemory | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        #: The recent messages handed to the LLM as context, in this process's memory.
        self.channels = channels

    async def erase_user(
        self, principal: Principal, channel_id: str, user_id: str, *, reason: str = ""
    ) -> ErasureReport:
        """Erase everything stored about the user in the channel. A user with nothing stored
        gets a report of zeros (audited too)."""
        require(principal, ADMINISTER)
        if self.store is None:
            raise StageUnavailableError("erasure needs a database")
        eraser = UserEraser(engine=self.store.engine, audit=self.audit)
        report = await eraser.erase(channel_id, user_id, actor=principal.owner, reason=reason)
        if self.channels is not None:
            self.channels.forget_user(channel_id, user_id)
        return report


class Retention:
    """Message text older than the retention period (RETENTION_DAYS): count it, delete it."""

    def __init__(self, *, job: RetentionJob) -> None:
        self.job = job

    async def due(self, principal: Principal) -> RetentionReport:
        """What a sweep would delete now (nothing is deleted)."""
        require(principal, ADMINISTER)
        return await self.job.due()

    async def sweep(self, principal: Principal) -> RetentionReport:
        """Delete it now."""
        require(principal, ADMINISTER)
        return await self.job.run_once()
