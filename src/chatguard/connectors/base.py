"""The chat connector interface, and the loop that joins a connector to the moderation service.

A connector turns a platform's chat into `Message`s and a `Decision` into the platform's own
commands (delete, timeout, ban). The loop moderates messages in arrival order, so a user's
strikes count in the order they were earned.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ClassVar

from chatguard.domain import Action, Decision, Message, PolicyReason

log = logging.getLogger(__name__)

Moderate = Callable[[Message], Awaitable[Decision | None]]


class ChatConnector(ABC):
    """One chat platform."""

    name: ClassVar[str]

    @abstractmethod
    async def connect(self) -> None:
        """Connect, authenticate and join the configured channels."""

    @abstractmethod
    async def close(self) -> None:
        """Leave and disconnect."""

    @abstractmethod
    def messages(self) -> AsyncIterator[Message]:
        """Chat messages as they arrive (not the connector's own)."""

    @abstractmethod
    async def apply(
        self,
        *,
        channel_id: str,
        user_id: str,
        action: Action,
        duration_s: int | None = None,
        message_id: str | None = None,
        reason: str = "chatguard",
    ) -> None:
        """Send the platform's commands for `action` against a user in a channel; allow, flag
        and hold send nothing (chat has shown the message already)."""

    async def notify(self, *, channel_id: str, user_id: str, text: str) -> None:
        """Tell one user something privately (the channel's crisis resources message). A
        platform with no private channel a bot may use sends nothing."""
        log.info("%s: no private notices on this platform; not sent in %s", self.name, channel_id)

    @property
    def removal_punishes(self) -> bool:
        """The platform cannot remove one message without acting against its author (plain
        IRC kicks): automatic removals of a crisis are then not enforced, a moderator's are."""
        return False

    def serves(self, channel_id: str) -> bool:
        """Is this channel one the connector moderates? (Review outcomes of other channels,
        decided through the API, are not its business.)"""
        return True

    async def enforce(self, message: Message, decision: Decision) -> None:
        """Carry out a decision about a message this connector delivered."""
        await self.apply(
            channel_id=message.channel_id,
            user_id=message.user_id,
            action=decision.action,
            duration_s=decision.duration_s,
            message_id=message.id,
            reason=short_reason(decision),
        )


class ModerationLoop:
    """Moderate every message a connector yields and enforce each decision."""

    def __init__(self, *, connector: ChatConnector, moderate: Moderate) -> None:
        self.connector = connector
        self.moderate = moderate
        self.moderated = 0
        self.enforced = 0
        self.notified = 0
        self.failed = 0
        #: Messages whose author was sent the decision's notice: a provisional and a final
        #: decision may both carry one, and the author hears it once.
        self.noticed = SeenIds()

    async def run(self) -> None:
        async for message in self.connector.messages():
            try:
                decision = await self.moderate(message)
            except Exception as exc:  # one bad message must not stop the bot
                self.failed += 1
                log.warning("moderation of %s failed: %s", message.id, type(exc).__name__)
                continue
            self.moderated += 1
            if decision is None:
                continue
            if decision.notice is not None and self.noticed.first(message.id):
                try:
                    await self.connector.notify(
                        channel_id=message.channel_id, user_id=message.user_id, text=decision.notice
                    )
                    self.notified += 1
                except Exception as exc:
                    self.failed += 1
                    log.warning("notice for %s failed: %s", message.id, type(exc).__name__)
            # Allow and flag leave the message; a hold waits for the review queue's verdict.
            if decision.action.severity < Action.DELETE.severity:
                continue
            if decision.policy_reason is PolicyReason.CRISIS and self.connector.removal_punishes:
                continue
            try:
                await self.connector.enforce(message, decision)
                self.enforced += 1
            except Exception as exc:
                self.failed += 1
                log.warning("enforcing %s failed: %s", message.id, type(exc).__name__)


class SeenIds:
    """The last `size` ids seen, to do something once per id without growing for ever."""

    def __init__(self, size: int = 10_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self.size = size

    def first(self, key: str) -> bool:
        """Remember `key`; True if it was not seen before."""
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


def short_reason(decision: Decision) -> str:
    """What a kick or timeout says: the category, severity and rung, never the message text."""
    reason = decision.reason.split(";")[0]
    rung = next((s for s in decision.trail if s.startswith("rung:")), "")
    text = f"chatguard: {reason}" + (f" ({rung.split(':', 2)[2]})" if rung else "")
    return text[:200]
