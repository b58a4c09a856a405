"""The review queue: held messages, their labels, and a moderator's approval or denial.
Scope: moderator; the principal's owner is recorded as the one who resolved the item."""

from __future__ import annotations

from chatguard.app.access import MODERATE, require
from chatguard.auth import Principal
from chatguard.decisions import ReviewQueue
from chatguard.decisions.policy import ActionRule
from chatguard.decisions.records import Label, ReviewItem, ReviewStatus


class Review:
    def __init__(self, *, queue: ReviewQueue) -> None:
        self.queue = queue

    async def items(
        self,
        principal: Principal,
        *,
        channel_id: str | None = None,
        status: ReviewStatus | None = ReviewStatus.PENDING,
        limit: int = 100,
    ) -> list[ReviewItem]:
        """Held messages, oldest first; pending ones unless `status` says otherwise (None:
        every status)."""
        require(principal, MODERATE)
        return await self.queue.items(channel_id=channel_id, status=status, limit=limit)

    async def item(self, principal: Principal, item_id: str) -> ReviewItem:
        """One held (or resolved) message; `NotFoundError` if there is none."""
        require(principal, MODERATE)
        return await self.queue.get(item_id)

    async def labels(
        self, principal: Principal, *, channel_id: str | None = None, limit: int = 1000
    ) -> list[Label]:
        """Review outcomes as labels, for evaluation and retraining."""
        require(principal, MODERATE)
        return await self.queue.repository.labels(channel_id=channel_id, limit=limit)

    async def approve(self, principal: Principal, item_id: str, *, reason: str = "") -> ReviewItem:
        """The message is fine: it is shown. `ReviewStateError` when it was resolved already."""
        require(principal, MODERATE)
        return await self.queue.approve(item_id, actor=principal.owner, reason=reason)

    async def deny(
        self,
        principal: Principal,
        item_id: str,
        *,
        reason: str = "",
        action: ActionRule | None = None,
    ) -> ReviewItem:
        """The message breaks the rules: it is removed (or timed out, banned: `action`), and
        the author gets a strike."""
        require(principal, MODERATE)
        return await self.queue.deny(item_id, actor=principal.owner, reason=reason, action=action)
