"""Running a chat connector against the moderation service: every chat message is moderated and
enforced, and moderators' denials from the review queue are enforced as they happen."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from chatguard.connectors.base import ChatConnector, ModerationLoop
from chatguard.domain import Action, Decision, Message
from chatguard.events import ACTIONS_TOPIC, ActionEnforced
from chatguard.events.legacy import client_form
from chatguard.service import DECISIONS_TOPIC, FINAL_DECISION, ModerationService

log = logging.getLogger(__name__)


async def enforce_reviews(service: ModerationService, connector: ChatConnector) -> None:
    """Carry out decisions made after the message was handled: review outcomes that remove it
    (denials, a timeout's default action) and late final decisions of the adjudicator."""
    async for typed in service.events.subscribe(DECISIONS_TOPIC):
        event = client_form(typed)
        # Denials from the review queue, and final decisions that replace a provisional one
        # (the adjudicator answered after the deadline).
        if event.get("type") not in ("review.resolved", FINAL_DECISION):
            continue
        action = Action(event["action"])
        if action.severity < Action.DELETE.severity or not connector.serves(event["channel_id"]):
            continue
        error = None
        try:
            await connector.apply(
                channel_id=event["channel_id"],
                user_id=event["user_id"],
                action=action,
                duration_s=event.get("duration_s"),
                message_id=event.get("message_id"),
                reason=_reason(event),
            )
        except Exception as exc:
            error = type(exc).__name__
            log.warning("enforcing review %s failed: %s", event.get("review_id"), error)
        await service.events.publish(
            ACTIONS_TOPIC,
            ActionEnforced(
                message_id=event.get("message_id"),
                channel_id=event["channel_id"],
                user_id=event["user_id"],
                action=action,
                duration_s=event.get("duration_s"),
                connector=connector.name,
                ok=error is None,
                error=error,
            ),
        )


async def run_connector(
    service: ModerationService, connector: ChatConnector, *, ready: asyncio.Event | None = None
) -> ModerationLoop:
    """Connect and moderate until the connection ends or the task is cancelled. The service
    must be started."""

    async def moderate(message: Message) -> Decision | None:
        return (await service.moderate(message)).decision

    loop = ModerationLoop(connector=connector, moderate=moderate)
    reviews: asyncio.Task[Any] | None = None
    try:
        await connector.connect()
        reviews = asyncio.create_task(enforce_reviews(service, connector))
        if ready is not None:
            ready.set()
        await loop.run()
    finally:
        if reviews is not None:
            reviews.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reviews
        await connector.close()
    return loop


def _reason(event: dict[str, Any]) -> str:
    if event.get("type") == FINAL_DECISION:
        return ("chatguard: " + str(event.get("reason", "")).split(";")[0])[:200]
    return "chatguard: removed after review"
