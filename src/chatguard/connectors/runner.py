"""Running a chat connector against the moderation service: every chat message is moderated and
enforced, and moderators' denials from the review queue are enforced as they happen. Both go
through the application layer, as the connector's principal (`connector:<name>`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from chatguard.app import Application, connector_principal
from chatguard.auth import Principal
from chatguard.connectors.base import ChatConnector, ModerationLoop, SeenIds
from chatguard.decisions.records import CRISIS_PRIORITY, ReviewStatus
from chatguard.domain import Action, Decision, Message, PolicyReason
from chatguard.events import ActionEnforced
from chatguard.service import FINAL_DECISION, ModerationService

log = logging.getLogger(__name__)


async def enforce_reviews(
    app: Application,
    connector: ChatConnector,
    principal: Principal,
    *,
    noticed: SeenIds | None = None,
) -> None:
    """Carry out decisions made after the message was handled: review outcomes that remove it
    (denials, a timeout's default action) and late final decisions of the adjudicator (and
    their notice to the author, unless `noticed` says it went out already)."""
    noticed = noticed if noticed is not None else SeenIds()
    async for event in app.feed.subscribe(principal):
        # Denials from the review queue, and final decisions that replace a provisional one
        # (the adjudicator answered after the deadline).
        if event.get("type") not in ("review.resolved", FINAL_DECISION):
            continue
        if not connector.serves(event["channel_id"]):
            continue
        if event.get("notice") and noticed.first(str(event.get("message_id"))):
            await _notify(connector, event)
        action = Action(event["action"])
        if action.severity < Action.DELETE.severity:
            continue
        if connector.removal_punishes and _automatic_crisis_removal(event):
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
        await app.feed.enforced(
            principal,
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
    service: ModerationService,
    connector: ChatConnector,
    *,
    ready: asyncio.Event | None = None,
    principal: Principal | None = None,
) -> ModerationLoop:
    """Connect and moderate until the connection ends or the task is cancelled. The service
    must be started. `principal`: who the connector acts as (default: `connector:<name>`,
    which feeds chat with the platform's roles and follows the decision feed)."""
    app = Application(service=service)
    actor = principal or connector_principal(connector.name)

    async def moderate(message: Message) -> Decision | None:
        return (await app.moderation.moderate(actor, message)).decision

    loop = ModerationLoop(connector=connector, moderate=moderate)
    reviews: asyncio.Task[Any] | None = None
    try:
        await connector.connect()
        reviews = asyncio.create_task(enforce_reviews(app, connector, actor, noticed=loop.noticed))
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


def _automatic_crisis_removal(event: dict[str, Any]) -> bool:
    """A removal of a crisis that no moderator chose: a final decision the crisis section
    made, or a crisis hold nobody reviewed in time (its default action). Where a removal
    punishes the author (a kick), it stands in the store but is not enforced; a moderator's
    denial is."""
    if event.get("type") == FINAL_DECISION:
        return event.get("policy_reason") == PolicyReason.CRISIS.value
    return (
        event.get("status") == ReviewStatus.EXPIRED.value
        and int(event.get("priority") or 0) >= CRISIS_PRIORITY
    )


async def _notify(connector: ChatConnector, event: dict[str, Any]) -> None:
    try:
        await connector.notify(
            channel_id=event["channel_id"], user_id=event["user_id"], text=str(event["notice"])
        )
    except Exception as exc:
        log.warning("notice for %s failed: %s", event.get("message_id"), type(exc).__name__)
