"""Fair turns for bulk work: round-robin between batch callers, one turn at a time, and a
large batch moderated chunk by chunk (orders of events, never timings)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from chatguard.config import load_settings
from chatguard.domain import Message
from chatguard.fairness import FairScheduler
from chatguard.service import ModerationService


async def run_batches(scheduler: FairScheduler, chunks: dict[str, int]) -> tuple[list[str], int]:
    """Batch callers taking turns for their chunks: the order the chunks ran in, and the most
    that ran at once."""
    order: list[str] = []
    running = 0
    most = 0

    async def batch(name: str, count: int) -> None:
        nonlocal running, most
        caller = scheduler.caller()
        for i in range(count):
            async with scheduler.turn(caller):
                running += 1
                most = max(most, running)
                order.append(f"{name}{i}")
                for _ in range(3):  # the chunk's own awaits (database round trips)
                    await asyncio.sleep(0)
                running -= 1

    await asyncio.gather(*(batch(name, count) for name, count in chunks.items()))
    return order, most


async def test_turns_go_round_robin_between_callers_one_at_a_time() -> None:
    scheduler = FairScheduler()
    order, most = await run_batches(scheduler, {"a": 4, "b": 2, "c": 3})
    assert most == 1
    assert order == ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "c2", "a3"]
    assert scheduler.waiting == 0


async def test_a_cancelled_waiter_does_not_keep_the_turn() -> None:
    scheduler = FairScheduler()
    entered: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with scheduler.turn(scheduler.caller()):
            entered.append("holder")
            await release.wait()

    async def waiter(name: str) -> None:
        async with scheduler.turn(scheduler.caller()):
            entered.append(name)

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    gone = asyncio.create_task(waiter("gone"))
    kept = asyncio.create_task(waiter("kept"))
    for _ in range(3):
        await asyncio.sleep(0)
    assert scheduler.waiting == 2
    gone.cancel()
    release.set()
    await asyncio.gather(first, kept)
    assert entered == ["holder", "kept"] and scheduler.waiting == 0


async def chunking_service(tmp_path: Path, **settings: int) -> tuple[ModerationService, list[int]]:
    """A started service on SQLite with `settings`, and the sizes of the groups its store
    commits, as they are committed."""
    service = ModerationService.from_settings(
        load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path}/chunks.db", _env_file=None, **settings
        )
    )
    await service.start()
    assert service.store is not None
    groups: list[int] = []
    service.store.observe_groups(lambda _c, entries, _s: groups.append(entries))
    return service, groups


def hellos(count: int, prefix: str) -> list[Message]:
    return [
        Message(text=f"hello chat number {i}", user_id=f"u{i}", channel_id="c", id=f"{prefix}{i}")
        for i in range(count)
    ]


async def test_a_large_batch_is_moderated_in_chunks_in_order(tmp_path: Path) -> None:
    service, groups = await chunking_service(tmp_path, batch_chunk_size=40)
    messages = hellos(100, "m")
    try:
        outcomes = await service.moderate_batch(messages)
        again = await service.moderate_batch(messages[:50])
    finally:
        await service.close()
    assert [o.response["message_id"] for o in outcomes] == [m.id for m in messages]
    assert not any(o.replayed for o in outcomes)
    assert sorted(groups) == [20, 40, 40]  # one transaction per chunk, none larger
    assert all(o.replayed for o in again)


async def test_several_turns_at_a_time_still_go_round_robin() -> None:
    scheduler = FairScheduler(turns=2)
    order, most = await run_batches(scheduler, {"a": 3, "b": 3, "c": 3})
    assert most == 2
    assert sorted(order) == sorted(f"{n}{i}" for n in "abc" for i in range(3))
    for name in "abc":  # each caller's chunks in its own order
        mine = [o for o in order if o[0] == name]
        assert mine == sorted(mine)
    assert order[:3] == ["a0", "b0", "c0"]  # everyone's first turn before anyone's second
    assert scheduler.waiting == 0


async def test_chunks_are_small_while_other_requests_are_here() -> None:
    scheduler = FairScheduler(chunk=100, chunk_beside_others=10)
    sizes: list[int] = []
    caller = scheduler.caller()

    async def chunk(*, visited: bool = False) -> None:
        async with scheduler.turn(caller):
            sizes.append(scheduler.chunk_size())
            if visited:  # a single request comes and goes while this chunk runs
                with scheduler.other_request():
                    await asyncio.sleep(0)

    await chunk()  # alone: large
    with scheduler.other_request():
        await chunk(visited=True)  # beside a request in progress: small
    await chunk()  # one started since the last turn: still small
    await chunk()  # nobody came since: large again
    assert sizes == [100, 10, 10, 100]
    assert scheduler.is_bulk(11) and not scheduler.is_bulk(10)


async def test_a_batch_beside_a_single_request_goes_in_small_chunks(tmp_path: Path) -> None:
    service, groups = await chunking_service(
        tmp_path, batch_chunk_size=40, batch_chunk_beside_others=10
    )
    assert service.fairness.turns == 1
    messages = hellos(60, "b")
    try:
        with service.fairness.other_request():  # a single request being moderated
            beside = await service.moderate_batch(messages[:30])
        alone = await service.moderate_batch(messages[30:])
    finally:
        await service.close()
    assert [o.response["message_id"] for o in beside + alone] == [m.id for m in messages]
    assert groups == [10, 10, 10, 30]


def test_roles_that_wait_on_other_roles_hold_several_turns() -> None:
    local = ModerationService.from_settings(load_settings(_env_file=None), with_store=False)
    remote = ModerationService.from_settings(
        load_settings(filter_endpoint="http://127.0.0.1:8001", _env_file=None), with_store=False
    )
    assert local.fairness.turns == 1
    assert remote.fairness.turns > 1
