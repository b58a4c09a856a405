"""On a SQLite file the policy engine's strike reads (the count of a user's strikes still
counting, the flood check's recent strikes) run as plain SQL on the store's read connection.
They give what the SQLAlchemy session gives, and no session is opened for them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatguard.decisions.records import Strike
from chatguard.decisions.repository import DecisionRepository
from chatguard.storage import SqlStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    store = SqlStore(f"sqlite+aiosqlite:///{tmp_path / 'strikes.db'}")
    await store.start()
    yield store
    await store.close()


STRIKES = [
    Strike(channel, user, f"{channel}-{user}-{n}", 1_000.0 + n * 10 + i, "timeout", "r", "why", src)
    for i, (channel, user) in enumerate(
        [("c1", "alice"), ("c1", "bob"), ("c2", "alice"), ("c1", "o'hara ünï")]
    )
    for n, src in enumerate(["auto", "flood", "auto", "review"])
]


async def test_plain_strike_reads_match_the_sessions(store: SqlStore) -> None:
    through_session = DecisionRepository(engine=store.engine)
    for strike in STRIKES:
        await through_session.add_strike(strike)
    assert store.plain_look_up is not None
    plain = DecisionRepository(engine=store.engine, look_up=store.plain_look_up)

    class NoSession:
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a strike read opened a SQLAlchemy session")

        begin = __call__

    plain._sessions = NoSession()  # type: ignore[assignment]
    users = [("c1", "alice"), ("c1", "bob"), ("c2", "alice"), ("c1", "o'hara ünï"), ("c3", "x")]
    for since in (0.0, 1_012.0, 1_025.5, 5_000.0):
        expected = await through_session.strike_times(users, since=since)
        found = await plain.strike_times(users, since=since)
        assert {u: sorted(t) for u, t in found.items()} == {
            u: sorted(t) for u, t in expected.items()
        }
        for channel, user in users:
            assert await plain.strikes(channel, user, since=since) == (
                await through_session.strikes(channel, user, since=since)
            )
    assert len(await plain.strikes("c1", "alice")) == 4
    assert sum(map(len, (await plain.strike_times(users, since=0.0)).values())) == 16
    # More users than one query takes: read in pages, every one answered.
    many = [("c9", f"u{i}") for i in range(450)] + users
    paged = await plain.strike_times(many, since=0.0)
    assert set(paged) == set(many)
    assert sum(map(len, paged.values())) == 16
