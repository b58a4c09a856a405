"""The chat connector interface, and the loop that joins a connector to the moderation service.

A connector turns a platform's chat into `Message`s and a `Decision` into the platform's own
commands (delete, timeout, ban). The loop moderates messages in arrival order, so a user's
strikes count in the order they were earned.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ClassVar

from chatguard.domain import Action, Decision, Message

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
    async def enforce(self, message: Message, decision: Decision) -> None:
        """Carry out the decision with the platform's commands; allow and flag do nothing."""


class ModerationLoop:
    """Moderate every message a connector yields and enforce each decision."""

    def __init__(self, *, connector: ChatConnector, moderate: Moderate) -> None:
        self.connector = connector
        self.moderate = moderate
        self.moderated = 0
        self.enforced = 0
        self.failed = 0

    async def run(self) -> None:
        async for message in self.connector.messages():
            try:
                decision = await self.moderate(message)
            except Exception as exc:  # one bad message must not stop the bot
                self.failed += 1
                log.warning("moderation of %s failed: %s", message.id, type(exc).__name__)
                continue
            self.moderated += 1
            # Allow and flag leave the message; a hold waits for the review queue's verdict.
            if decision is None or decision.action.severity < Action.DELETE.severity:
                continue
            try:
                await self.connector.enforce(message, decision)
                self.enforced += 1
            except Exception as exc:
                self.failed += 1
                log.warning("enforcing %s failed: %s", message.id, type(exc).__name__)
