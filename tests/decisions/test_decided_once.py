"""A message is decided once: deciding it again (a retry, a second process, a write whose
outcome was lost) answers the decision recorded first, and writes nothing of the second, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from chatguard.decisions import PolicyEngine
from chatguard.decisions.effects import Applied, Planned
from chatguard.decisions.repository import DecisionRepository
from chatguard.domain import Action, Message, Route
from chatguard.events import InProcessEventBus
from tests.decisions.conftest import Clock, make_assessment

TOXIC = make_assessment({"harassment/threatening": 0.95}, Route.ACT)


def _message(n: int) -> Message:
    return Message(text="kys", user_id="troll", channel_id="lobby", id=f"once-{n}")


async def _system_entries(engine: PolicyEngine) -> list[str]:
    assert engine.audit is not None
    return [e.action for e in await engine.audit.entries(channel_id="lobby")]


async def test_a_retry_gets_the_first_decision_and_no_second_strike(
    engine: PolicyEngine, repository: DecisionRepository, clock: Clock
) -> None:
    first = await engine.decide_many([(_message(1), TOXIC)])
    clock.advance(30)
    # Decided afresh, the same message would now count its own strike: strike 2, a delete.
    again = await engine.decide_many([(_message(1), TOXIC)])
    assert [(d.action, d.reason) for d in again] == [(d.action, d.reason) for d in first]
    assert "strike 1 (warn;" in again[0].reason
    assert len(await repository.strikes("lobby", "troll")) == 1
    assert await _system_entries(engine) == ["decision.delete"]


async def test_a_batch_keeps_the_recorded_decisions_and_writes_the_new_ones(
    engine: PolicyEngine, repository: DecisionRepository, clock: Clock
) -> None:
    [first] = await engine.decide_many([(_message(1), TOXIC)])
    clock.advance(30)
    second, retried, third = await engine.decide_many(
        [(_message(2), TOXIC), (_message(1), TOXIC), (_message(3), TOXIC)]
    )
    assert retried.reason == first.reason
    assert "strike 2 (delete;" in second.reason
    assert "strike 3 (timeout 10m;" in third.reason and third.action is Action.TIMEOUT
    assert len(await repository.strikes("lobby", "troll")) == 3
    assert len(await _system_entries(engine)) == 3


class _WritesTogether(PolicyEngine):
    """A policy engine whose writes start only once every engine of the barrier has planned."""

    def __init__(self, barrier: asyncio.Barrier, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.barrier = barrier

    async def _apply(self, planned: Sequence[Planned], deadline: float | None) -> list[Applied]:
        await self.barrier.wait()
        return await super()._apply(planned, deadline)


async def test_two_processes_deciding_one_message_at_once_agree(
    repository: DecisionRepository, clock: Clock
) -> None:
    # Two engines on one database stand for two decision-role processes: both plan before
    # either writes, with no decision recorded, and they plan message 1 differently (the
    # second sees message 2 first, so counts one strike more): only the claim on the message
    # keeps one decision of it.
    barrier = asyncio.Barrier(2)
    engines = [
        _WritesTogether(barrier, repository=repository, events=InProcessEventBus(), clock=clock)
        for _ in range(2)
    ]
    await PolicyEngine(repository=repository, clock=clock).decide(_message(0), TOXIC)
    clock.advance(30)
    try:
        batches = [[(_message(1), TOXIC)], [(_message(2), TOXIC), (_message(1), TOXIC)]]
        together = zip(engines, batches, strict=True)
        answers = await asyncio.gather(*(e.decide_many(b) for e, b in together))
    finally:
        for e in engines:
            await e.close()
    assert answers[0][0].reason == answers[1][1].reason
    entries = {e.message_id: e for e in await engines[0].audit.entries(channel_id="lobby")}
    assert entries["once-1"].reason == answers[0][0].reason
    strikes = await repository.strikes("lobby", "troll")
    assert sorted(s.message_id for s in strikes) == [f"once-{n}" for n in range(3)]
