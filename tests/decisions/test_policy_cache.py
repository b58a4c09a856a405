"""A channel's policy is read once when its cache runs out, however many requests of the channel
arrive at that moment (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

from chatguard.decisions.policy_store import PolicyStore
from chatguard.decisions.presets import load_presets
from chatguard.decisions.records import PolicyVersion
from chatguard.decisions.repository import DecisionRepository
from tests.decisions.conftest import Clock


class CountingRepository(DecisionRepository):
    """The real repository, counting its reads of the latest policy."""

    reads = 0

    async def latest_policy(self, channel_id: str) -> PolicyVersion | None:
        self.reads += 1
        return await super().latest_policy(channel_id)


async def test_concurrent_misses_share_one_read(
    repository: DecisionRepository, clock: Clock
) -> None:
    counting = CountingRepository(engine=repository._sessions.factory.kw["bind"])
    policies = PolicyStore(presets=load_presets(), repository=counting, clock=clock)
    await policies.put("lobby", {"preset": "kids"}, actor="test")
    first = await asyncio.gather(*(policies.get("lobby") for _ in range(20)))
    clock.advance(60)  # the cache ran out
    counting.reads = 0
    again = await asyncio.gather(*(policies.get("lobby") for _ in range(20)))
    assert counting.reads == 1
    assert {p.version for p in first + again} == {1}
    assert {p.policy.name for p in again} == {"kids"}
