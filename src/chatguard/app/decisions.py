"""Deciding on an assessment made elsewhere (the api role's): the channel's decision under its
policy, with its effects written at once, or, while the database is away, spooled and written
once when it is back. Scope: admin (the caller asserts the scores)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from chatguard.app.access import ADMINISTER, require
from chatguard.auth import Principal, require_role_assertion
from chatguard.decisions import PolicyEngine
from chatguard.decisions.effects import Applied
from chatguard.decisions.engine import WriteFailedError
from chatguard.domain import Assessment, Decision, Message
from chatguard.errors import DeadlinePassedError, InputTooLargeError, StoreUnavailableError
from chatguard.serialize import decision_from_dict
from chatguard.service import ModerationService
from chatguard.storage.store import Entry


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
        return (await self._decide([(message, assessment)], final=final))[0]

    async def decide_many(
        self,
        principal: Principal,
        items: Sequence[tuple[Message, Assessment, bool]],
        *,
        deadline: float | None = None,
    ) -> list[Decision]:
        """`decide` for many (message, assessment, final) at once, in order: the first
        decisions and the final ones each in one pass, their effects in one transaction.
        `deadline` (Unix seconds): past it nothing is written (`DeadlinePassedError`), so a
        caller that gave up and decided without this role finds no second decision here."""
        require(principal, ADMINISTER)
        limit = self.service.settings.max_batch_size
        if len(items) > limit:
            raise InputTooLargeError(f"batch of {len(items)} decisions; the limit is {limit}")
        require_role_assertion(principal, asserted=any(m.roles for m, _, _ in items))
        for message, _, _ in items:
            self.service.validate(message)
        decided: list[Decision | None] = [None] * len(items)
        for final in (False, True):
            chosen = [i for i, item in enumerate(items) if item[2] is final]
            if chosen:
                batch = [(items[i][0], items[i][1]) for i in chosen]
                made = await self._decide(batch, final=final, deadline=deadline)
                for i, decision in zip(chosen, made, strict=True):
                    decided[i] = decision
        return [d for d in decided if d is not None]

    async def _decide(
        self,
        items: Sequence[tuple[Message, Assessment]],
        *,
        final: bool,
        deadline: float | None = None,
    ) -> list[Decision]:
        """Decide with the effects written now, or, while the database is away, from what
        this process knows, the effects spooled and written once the database is back. When
        the write itself fails, its outcome is unknown (the commit may have landed): the
        decisions planned for it are the ones spooled and answered, so whichever copy of the
        effects is written, it agrees with the answer."""
        keeper = self.service.keeper
        unsure: WriteFailedError | None = None
        if keeper is None or keeper.online:
            try:
                return await self.engine.decide_many(items, final=final, deadline=deadline)
            except StoreUnavailableError as failed:
                if keeper is None:
                    raise
                keeper.failed("save")
                if isinstance(failed, WriteFailedError):
                    unsure = failed
        # A retry of a decision spooled earlier gets that decision, and no second effect.
        earlier = await keeper.spooled_effects([m.id for m, _ in items], final=final)
        known = {
            m.id: decision_from_dict(m, a, earlier[m.id].response)
            for m, a in items
            if m.id in earlier
        }
        if unsure is not None:
            known |= unsure.known
            planned = [p for p in unsure.planned if p.decision.message_id not in known]
            fresh = [(m, a) for m, a in items if m.id in {p.decision.message_id for p in planned}]
        else:
            fresh = [(m, a) for m, a in items if m.id not in known]
            planned = await self.engine.plan_many(fresh, final=final, offline=True) if fresh else []
        # Past the deadline nothing is spooled, unless a write may have landed: then its
        # decisions are spooled all the same, so that what is written is one of them.
        if unsure is None and deadline is not None and time.time() > deadline:
            raise DeadlinePassedError("the caller's deadline passed; nothing was written")
        await keeper.spool_effects(
            [Entry.of(m, p.decision, p.effects) for (m, _), p in zip(fresh, planned, strict=True)],
            final=final,
        )
        for one in planned:
            self.engine.committed(one, Applied(spooled=True), stored=False)
        known |= {p.decision.message_id: p.decision for p in planned}
        return [known[m.id] for m, _ in items]
