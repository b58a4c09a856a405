"""Fixtures of the decision handler tests: a migrated store (SQLite and PostgreSQL), a clock the
test moves, a policy engine on both, and assessments made to order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import pytest

from chatguard.decisions import PolicyEngine
from chatguard.decisions.repository import DecisionRepository
from chatguard.domain import Assessment, Route, Span, StageTrace
from chatguard.events import InProcessEventBus
from chatguard.storage import SqlStore
from chatguard.taxonomy import Category


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_assessment(
    scores: Mapping[str, float],
    route: Route = Route.ACT,
    *,
    spans: tuple[Span, ...] = (),
    pending: bool = False,
    llm_failed: bool = False,
    review: bool = False,
) -> Assessment:
    typed = {Category(k): v for k, v in scores.items()}
    trail: tuple[StageTrace, ...] = (StageTrace("rules", 0.01, route),)
    if llm_failed:
        trail += (StageTrace("llm", 1500.0, Route.UNCERTAIN, error="timed out"),)
    return Assessment(
        message_id="m",
        scores=typed,
        route=route,
        decided_by="rules",
        spans=spans,
        trail=trail,
        escalated=pending or llm_failed,
        pending=("llm",) if pending else (),
        llm_unavailable=llm_failed,
        review=review,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    store = SqlStore(database_url)
    await store.start()
    yield store
    await store.close()


@pytest.fixture
def repository(store: SqlStore) -> DecisionRepository:
    return DecisionRepository(engine=store.engine)


@pytest.fixture
async def engine(repository: DecisionRepository, clock: Clock) -> AsyncIterator[PolicyEngine]:
    engine = PolicyEngine(repository=repository, events=InProcessEventBus(), clock=clock)
    yield engine
    await engine.close()
