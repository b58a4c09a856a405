"""The live feed of decisions and review events (ids, actions, scores; never message text),
for moderators' consoles and for connectors that enforce review outcomes, in the client form
the WebSocket and webhooks have always carried (`chatguard.events.legacy`). Scope: moderator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from chatguard.app.access import MODERATE, require
from chatguard.auth import Principal
from chatguard.events import ACTIONS_TOPIC, DECISIONS_TOPIC, ActionEnforced, EventBase, EventBus
from chatguard.events.legacy import client_form


class DecisionFeed:
    def __init__(self, *, events: EventBus) -> None:
        self.events = events

    def subscribe(
        self, principal: Principal, *, channel_id: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Events from the moment the iterator is first advanced; `channel_id` narrows them to
        one channel. Close the iterator (`aclose`) to stop listening."""
        require(principal, MODERATE)
        return _events(self.events.subscribe(DECISIONS_TOPIC), channel_id)

    async def enforced(self, principal: Principal, event: ActionEnforced) -> None:
        """A connector carried out (or failed to carry out) an action on its platform."""
        require(principal, MODERATE)
        await self.events.publish(ACTIONS_TOPIC, event)


async def _events(
    subscription: AsyncIterator[EventBase], channel_id: str | None
) -> AsyncIterator[dict[str, Any]]:
    try:
        async for typed in subscription:
            event = client_form(typed)
            if channel_id is None or event.get("channel_id") == channel_id:
                yield event
    finally:
        # Unsubscribe now, not when the garbage collector gets to the bus's iterator.
        await subscription.aclose()  # type: ignore[attr-defined]
