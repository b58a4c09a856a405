"""Moderating messages: one, many, and the stateless classification of bare text (the
OpenAI-compatible form). Scope: ingest."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from chatguard.app.access import INGEST, require
from chatguard.auth import Principal, require_role_assertion
from chatguard.domain import Assessment, Message
from chatguard.errors import InputTooLargeError, InvalidInputError
from chatguard.service import ModerationService, Outcome


class UserRateGate(Protocol):
    """Per chat user message rates (`chatguard.ratelimit.RateLimiter`)."""

    async def check_users(self, users: Iterable[tuple[str, str]]) -> None: ...


class Moderation:
    def __init__(
        self, *, service: ModerationService, user_rates: UserRateGate | None = None
    ) -> None:
        self.service = service
        #: None: no per-user rate (a connector or the CLI, whose chat has its own limits).
        self.user_rates = user_rates

    async def moderate(self, principal: Principal, message: Message) -> Outcome:
        """Moderate one chat message: the decision with its evidence, stored with its effects
        (a message id seen before gets the stored answer)."""
        return (await self.moderate_many(principal, [message]))[0]

    async def moderate_many(
        self, principal: Principal, messages: Sequence[Message]
    ) -> list[Outcome]:
        """Moderate messages in one pass of the cascade; answers keep the input order."""
        require(principal, INGEST)
        # Exempt roles lift moderation: only a principal that may assert them sends them.
        require_role_assertion(principal, asserted=any(m.roles for m in messages))
        # An oversized batch is refused before it spends its users' rate (a cost above the
        # burst would empty their buckets for nothing).
        self.service.check_batch_size(len(messages))
        if self.user_rates is not None:
            await self.user_rates.check_users((m.channel_id, m.user_id) for m in messages)
        return await self.service.moderate_batch(messages)

    async def classify(self, principal: Principal, texts: Sequence[str]) -> list[Assessment]:
        """Assess bare texts the way OpenAI's moderation API does: nothing is stored and no
        per-user state (rates, strikes, channel context) is touched."""
        require(principal, INGEST)
        if not texts:
            raise InvalidInputError("input must not be empty")
        limit = self.service.settings.max_batch_size
        if len(texts) > limit:
            raise InputTooLargeError(f"input has {len(texts)} items; the limit is {limit}")
        return await self.service.assess_texts(texts)
