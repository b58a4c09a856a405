"""Webhook deliveries that failed every attempt (dead letters): list them (moderator) and send
one again (admin)."""

from __future__ import annotations

from chatguard.app.access import ADMINISTER, MODERATE, require
from chatguard.auth import Principal
from chatguard.decisions.records import Delivery
from chatguard.decisions.repository import DecisionRepository
from chatguard.decisions.webhooks import DEAD, WebhookSender
from chatguard.errors import StageUnavailableError


class Webhooks:
    def __init__(
        self, *, repository: DecisionRepository | None, sender: WebhookSender | None
    ) -> None:
        self.repository = repository
        self.sender = sender

    async def dead_letters(self, principal: Principal, *, limit: int = 100) -> list[Delivery]:
        require(principal, MODERATE)
        if self.repository is None:
            raise StageUnavailableError("webhooks need a database")
        return await self.repository.deliveries(status=DEAD, limit=limit)

    async def retry(self, principal: Principal, delivery_id: str) -> Delivery:
        """Send a dead letter again, with a fresh round of attempts; `NotFoundError` if there
        is no such dead letter."""
        require(principal, ADMINISTER)
        if self.sender is None:
            raise StageUnavailableError("no webhooks are configured")
        return await self.sender.retry_dead(delivery_id)
