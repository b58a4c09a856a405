"""Group commit on SQLite and PostgreSQL: concurrent saves share one transaction and keep the
exactly-once design (per message id the stored answer wins; a conflict is answered for its own
caller; a row the database refuses fails its own caller, not its neighbours)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy.exc import IntegrityError

from chatguard.config import load_settings
from chatguard.decisions.effects import Effects
from chatguard.decisions.records import Strike
from chatguard.domain import Action, Assessment, Decision, Message, Route
from chatguard.errors import ConflictError
from chatguard.service import ModerationService
from chatguard.storage import SqlStore
from chatguard.storage.store import Entry, Saved
from chatguard.taxonomy import Category
from tests.conftest import _drop_all as drop_all
from tests.support.effects import read_ledger


def _entry(message_id: str, text: str, *, strike: bool = False) -> Entry:
    message = Message(text=text, user_id="u", channel_id="c", id=message_id)
    assessment = Assessment(
        message_id=message_id,
        scores={Category.HARASSMENT: 0.95},
        route=Route.ACT,
        decided_by="classifier",
    )
    decision = Decision(message_id, Action.DELETE, "harassment", assessment)
    effects = Effects()
    if strike:
        effects = Effects(
            strike=Strike("c", "u", message_id, 1.0, "delete", "warn", "harassment", "auto")
        )
    return Entry.of(message, decision, effects)


class Groups:
    """Records every group the store's writer commits: (callers, entries)."""

    def __init__(self, store: SqlStore) -> None:
        self.seen: list[tuple[int, int]] = []
        store.observe_groups(lambda callers, entries, _s: self.seen.append((callers, entries)))


async def test_parallel_requests_with_one_id_give_one_strike(database_url: str) -> None:
    settings = load_settings(database_url=database_url, _env_file=None)
    service = ModerationService.from_settings(settings)
    await service.start()
    assert service.store is not None
    groups = Groups(service.store)
    try:
        message = Message(
            text="kys you worthless idiot", user_id="u1", channel_id="lobby", id="same-id"
        )
        outcomes = await asyncio.gather(*(service.moderate(message) for _ in range(24)))
    finally:
        await service.close()
    ledger = await read_ledger(database_url)
    assert ledger.messages == 1
    assert ledger.strikes["same-id"] == 1
    assert len({(o.response["action"], o.response["reason"]) for o in outcomes}) == 1
    assert sum(not o.replayed for o in outcomes) == 1
    ledger.check_exactly_once()
    # The saves that raced did share transactions: fewer groups than callers.
    assert groups.seen and sum(c for c, _ in groups.seen) > len(groups.seen)


async def test_good_and_conflicting_rows_in_one_group(database_url: str) -> None:
    store = SqlStore(database_url)
    await store.start()
    groups = Groups(store)
    try:
        await store.save_entries([_entry("taken", "the first text")])
        groups.seen.clear()
        results = await asyncio.gather(
            store.save_entries([_entry("new-1", "hello", strike=True)]),
            store.save_entries([_entry("taken", "another text")]),  # same id, other text
            store.save_entries([_entry("taken", "the first text")]),  # a retry
            store.save_entries([_entry("new-2", "hi", strike=True), _entry("new-1", "hello")]),
            return_exceptions=True,
        )
        stored = await store.get_many(["taken", "new-1", "new-2"])
    finally:
        await store.close()
    assert groups.seen == [(4, 5)]  # one transaction for all four callers
    first, conflict, retry, both = results
    assert isinstance(first, Saved) and set(first.applied) == {"new-1"}
    assert isinstance(conflict, ConflictError)
    assert isinstance(retry, Saved) and set(retry.existing) == {"taken"} and not retry.applied
    assert isinstance(both, Saved)
    assert set(both.applied) == {"new-2"} and set(both.existing) == {"new-1"}
    assert set(stored) == {"taken", "new-1", "new-2"}
    ledger = await read_ledger(database_url)
    assert ledger.strikes["new-1"] == ledger.strikes["new-2"] == 1


async def test_a_refused_row_fails_its_caller_only(database_url: str) -> None:
    store = SqlStore(database_url)
    await store.start()
    groups = Groups(store)
    good = _entry("good-1", "fine")
    broken = _entry("broken", "no user")
    broken = replace(broken, message={**broken.message, "user_id": None})  # NOT NULL
    try:
        results = await asyncio.gather(
            store.save_entries([good]),
            store.save_entries([broken]),
            store.save_entries([_entry("good-2", "also fine")]),
            return_exceptions=True,
        )
        stored = await store.get_many(["good-1", "broken", "good-2"])
    finally:
        await store.close()
    assert groups.seen[0] == (3, 3)  # tried together, then caller by caller
    assert isinstance(results[0], Saved) and set(results[0].applied) == {"good-1"}
    assert isinstance(results[1], IntegrityError)
    assert isinstance(results[2], Saved) and set(results[2].applied) == {"good-2"}
    assert set(stored) == {"good-1", "good-2"}


@pytest.mark.parametrize("group_commit", [True, False], ids=["grouped", "one-by-one"])
async def test_saving_answers_alike_with_and_without_grouping(
    sqlite_url: str, group_commit: bool
) -> None:
    store = SqlStore(sqlite_url, group_commit=group_commit)
    await store.start()
    try:
        saved = await store.save_entries([_entry("a", "x"), _entry("b", "y"), _entry("a", "x")])
        again = await store.save_entries([_entry("a", "x")])
        with pytest.raises(ConflictError):
            await store.save_entries([_entry("b", "not y")])
    finally:
        await store.close()
    assert set(saved.applied) == {"a", "b"} and not saved.existing
    assert set(again.existing) == {"a"} and not again.applied


async def test_a_sqlite_write_lock_held_elsewhere_is_waited_for_off_the_loop(
    sqlite_url: str,
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    store = SqlStore(sqlite_url)
    await store.start()
    assert store._local is not None
    other = create_async_engine(sqlite_url)
    try:
        async with other.connect() as connection:
            # Another connection of this process holds the write lock; its COMMIT needs the
            # event loop, so the store must not wait for the lock on the loop's thread.
            await connection.exec_driver_sql("BEGIN IMMEDIATE")
            saving = asyncio.create_task(store.save_entries([_entry("behind-lock", "hi")]))
            for _ in range(2000):  # until the save found the lock taken
                if store._local.waited:
                    break
                await asyncio.sleep(0.005)
            assert store._local.waited == 1 and not saving.done()
            await connection.exec_driver_sql("COMMIT")
        saved = await saving
    finally:
        await other.dispose()
        await store.close()
    assert set(saved.applied) == {"behind-lock"}


async def test_a_queue_with_room_for_two_groups_runs_two_at_once() -> None:
    from chatguard.storage.group_commit import GroupQueue

    running: list[list[list[int]]] = []
    release = asyncio.Event()

    async def write(groups: list[list[int]]) -> list[int]:
        running.append(groups)
        await release.wait()
        return [sum(g) for g in groups]

    queue: GroupQueue[int, int] = GroupQueue(write, concurrency=2)
    first = asyncio.ensure_future(queue.submit([1]))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(queue.submit([2]))
    await asyncio.sleep(0.01)
    # Both are out, the first not answered yet: the third waits and goes alone after.
    third = asyncio.ensure_future(queue.submit([3, 4]))
    await asyncio.sleep(0.01)
    assert running == [[[1]], [[2]]] and queue.waiting == 1
    release.set()
    assert await asyncio.gather(first, second, third) == [1, 2, 7]
    await queue.close()


async def test_on_postgresql_a_group_waiting_on_a_lock_does_not_hold_back_the_next(
    postgres_url: str,
) -> None:
    import asyncpg

    store = SqlStore(postgres_url)
    await store.start()
    blocker = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        # Another transaction inserts the id first and keeps its lock: the store's group
        # with that id waits on it.
        held = _entry("held-id", "hello chat")
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute(
            "INSERT INTO messages (id, channel_id, user_id, text, text_sha256, roles, sent_at,"
            " received_at) VALUES ($1, 'c', 'u', 'hello chat', $2, '[]', 0, now())",
            "held-id",
            held.message["text_sha256"],
        )
        waiting = asyncio.create_task(store.save_entries([held]))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        # A later save of another id is written meanwhile, in a transaction of its own.
        other = await asyncio.wait_for(store.save_entries([_entry("free-id", "gg")]), 10)
        assert set(other.applied) == {"free-id"}
        assert not waiting.done()
        await transaction.rollback()  # the lock goes: the waiting group inserts its row
        saved = await asyncio.wait_for(waiting, 10)
        assert set(saved.applied) == {"held-id"}
    finally:
        await blocker.close()
        await store.close()
        await drop_all(postgres_url)  # the session's database stays empty for the next test


async def test_sqlite_writes_one_group_at_a_time(sqlite_url: str) -> None:
    store = SqlStore(sqlite_url)
    assert store._writer.concurrency == 1 and store._reader.concurrency == 1
    await store.close()
