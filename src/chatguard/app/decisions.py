"""Deciding on an assessment made elsewhere (the filter role's): the channel's decision under
its policy, with its effects written at once. Scope: admin (the caller asserts the scores)."""

from __future__ import annotations

from chatguard.app.access import ADMINISTER, require
from chatguard.auth import Principal, require_role_assertion
from chatguard.decisions import PolicyEngine
from chatguard.domain import Assessment, Decision, Message
from chatguard.service import ModerationService


class Decisions:
    def __init__(self, *, service: ModerationService, engine: PolicyEngine) -> None:
        self.service = service
        self.engine = engine

    async def decide(
        self,
        principal: Principal,
        message: Message,
        assessment: Assessment,
        *,
        final: bool = False,
    ) -> Decision:
        """The decision about `message` given `assessment`; the message passes the limits and
        checks moderation applies. `final`: it replaces the message's provisional decision
        (the adjudicator answered after the deadline)."""
        require(principal, ADMINISTER)
        require_role_assertion(principal, asserted=bool(message.roles))
        self.service.validate(message)
        return await self.engine.decide(message, assessment, final=final)
