"""A chat user's record in a channel: every strike, those still counting under the channel's
decay, and the rung the next offence reaches. Scope: moderator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chatguard.app.access import MODERATE, require
from chatguard.auth import Principal
from chatguard.decisions.policy_store import PolicyStore
from chatguard.decisions.records import Strike
from chatguard.decisions.strikes import Escalation, StrikeBook, StrikeLadder
from chatguard.errors import StageUnavailableError


@dataclass(frozen=True, slots=True)
class UserStanding:
    channel_id: str
    user_id: str
    #: Every strike, oldest first.
    strikes: tuple[Strike, ...]
    #: The strikes still counting (within the ladder's decay).
    active: tuple[Strike, ...]
    decay_s: int
    #: What the next offence gets.
    next_rung: Escalation


class Users:
    def __init__(
        self,
        *,
        policies: PolicyStore,
        strikes: StrikeBook | None,
        clock: Callable[[], float],
    ) -> None:
        self.policies = policies
        self.strikes = strikes
        self.clock = clock

    async def standing(self, principal: Principal, channel_id: str, user_id: str) -> UserStanding:
        require(principal, MODERATE)
        if self.strikes is None:
            raise StageUnavailableError("strikes need a database")
        policy = (await self.policies.get(channel_id)).policy
        ladder = StrikeLadder(policy.ladder)
        history = await self.strikes.history(channel_id, user_id)
        active = ladder.active(history, self.clock())
        return UserStanding(
            channel_id=channel_id,
            user_id=user_id,
            strikes=tuple(history),
            active=tuple(active),
            decay_s=policy.ladder.decay_s,
            next_rung=ladder.escalate(len(active)),
        )
