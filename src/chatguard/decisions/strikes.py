"""Strikes and escalation: repeat offences climb a ladder (warn → delete → timeouts → ban), and
strikes decay (stop counting) a set time after they were given. Spam-only offences count once
per burst (see `FloodConfig`)."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass

from chatguard.decisions.policy import ActionRule, LadderConfig, Rung
from chatguard.decisions.records import Strike
from chatguard.decisions.repository import DecisionRepository


@dataclass(frozen=True, slots=True)
class Escalation:
    """Where an offence lands on the ladder: the rung, its position, and the strikes that
    count (those given within the decay window)."""

    rung: Rung
    position: int  # 1-based: the user's n-th live offence
    active: int  # strikes still counting before this one

    def describe(self) -> str:
        return f"strike {self.position} ({self.rung.name}; {self.active} earlier within decay)"


class StrikeLadder:
    """Pure ladder arithmetic, no storage: which rung an offence reaches."""

    def __init__(self, config: LadderConfig) -> None:
        self.config = config

    def window_start(self, now: float) -> float:
        return now - self.config.decay_s

    def active(self, strikes: Sequence[Strike], now: float) -> list[Strike]:
        start = self.window_start(now)
        return [s for s in strikes if s.at >= start]

    def escalate(self, active_count: int) -> Escalation:
        rungs = self.config.rungs
        rung = rungs[min(active_count, len(rungs) - 1)]
        return Escalation(rung=rung, position=active_count + 1, active=active_count)


def harsher(first: ActionRule, second: ActionRule) -> ActionRule:
    """The more severe action; between two timeouts, the longer one."""
    if first.action.severity != second.action.severity:
        return first if first.action.severity > second.action.severity else second
    if (first.duration_s or 0) >= (second.duration_s or 0):
        return ActionRule(action=first.action, duration_s=first.duration_s)
    return ActionRule(action=second.action, duration_s=second.duration_s)


#: `Strike.source` of a strike given for a spam-only offence (one per burst).
FLOOD_SOURCE = "flood"
#: Users whose last spam-only offence this process remembers (the oldest are forgotten first;
#: a forgotten burst falls back to the stored strikes).
MAX_TRACKED_BURSTS = 100_000


class StrikeBook:
    """Strikes per user and channel, stored; and the flood bursts in progress."""

    def __init__(self, *, repository: DecisionRepository) -> None:
        self.repository = repository
        # (channel, user) -> time of the user's last spam-only offence, in this process.
        self._last_flood: dict[tuple[str, str], float] = {}

    async def flood_strike_due(
        self, channel_id: str, user_id: str, *, now: float, burst_s: float, offline: bool = False
    ) -> bool:
        """Does this spam-only offence start a new burst (and so give a strike)? It does not
        when the user's previous spam-only offence came less than `burst_s` ago (the burst
        goes on while the offences keep coming), or, past what this process remembers, when
        a flood strike was stored within `burst_s` (another worker's, or before a restart)."""
        if burst_s <= 0:
            return True
        key = (channel_id, user_id)
        # Read and written with no await in between: concurrent offences of one user in this
        # process cannot both start a burst.
        last = self._last_flood.pop(key, None)
        self._last_flood[key] = now
        if len(self._last_flood) > MAX_TRACKED_BURSTS:
            self._last_flood.pop(next(iter(self._last_flood)))
        if last is not None and now - last < burst_s:
            return False
        if offline:  # the database is away: what this process remembers is all there is
            return True
        stored = await self.repository.strikes(channel_id, user_id, since=now - burst_s)
        return not any(strike.source == FLOOD_SOURCE for strike in stored)

    async def active(self, channel_id: str, user_id: str, ladder: StrikeLadder, now: float) -> int:
        live = await self.repository.strikes(channel_id, user_id, since=ladder.window_start(now))
        return len(live)

    async def record(self, strike: Strike) -> None:
        await self.repository.add_strike(strike)

    async def history(self, channel_id: str, user_id: str) -> list[Strike]:
        return await self.repository.strikes(channel_id, user_id)


class RecentStrikes:
    """The strikes this process gave lately, per user and channel, bounded: what the ladder
    counts while the database cannot be asked."""

    def __init__(self, *, max_users: int = 100_000, per_user: int = 50) -> None:
        self.max_users = max_users
        self.per_user = per_user
        self._seen: OrderedDict[tuple[str, str], deque[tuple[float, str]]] = OrderedDict()

    def add(self, strike: Strike) -> None:
        key = (strike.channel_id, strike.user_id)
        given = self._seen.get(key)
        if given is None:
            given = self._seen[key] = deque(maxlen=self.per_user)
        self._seen.move_to_end(key)
        if all(message_id != strike.message_id for _, message_id in given):
            given.append((strike.at, strike.message_id))
        while len(self._seen) > self.max_users:
            self._seen.popitem(last=False)

    def count(self, channel_id: str, user_id: str, *, since: float) -> int:
        return sum(1 for at, _ in self._seen.get((channel_id, user_id), ()) if at >= since)
