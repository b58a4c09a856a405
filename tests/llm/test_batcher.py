"""The micro-batcher: flush at N or after M ms, match by position, retry what was left out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import pytest

from chatguard.llm.batcher import MicroBatcher, MissingVerdictError


class Echo:
    """A handler that answers `x -> x * 10`, except for the items in `skip` (answered only when
    asked alone if `alone_ok`), and records every batch it was handed."""

    def __init__(self, *, skip: frozenset[int] = frozenset(), alone_ok: bool = True) -> None:
        self.batches: list[list[int]] = []
        self.skip = skip
        self.alone_ok = alone_ok

    async def __call__(self, items: list[int]) -> Mapping[int, int]:
        self.batches.append(list(items))
        await asyncio.sleep(0)
        answered = {}
        for position, item in enumerate(items):
            if item in self.skip and not (self.alone_ok and len(items) == 1):
                continue
            answered[position] = item * 10
        return answered


async def test_flushes_when_full() -> None:
    echo = Echo()
    batcher = MicroBatcher(handler=echo, max_size=4, max_wait_ms=10_000)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(8)))
    assert results == [i * 10 for i in range(8)]
    assert echo.batches == [[0, 1, 2, 3], [4, 5, 6, 7]]


async def test_flushes_after_the_wait() -> None:
    echo = Echo()
    sizes: list[int] = []
    batcher = MicroBatcher(handler=echo, max_size=100, max_wait_ms=30, on_flush=sizes.append)
    started = time.perf_counter()
    results = await asyncio.gather(*(batcher.submit(i) for i in range(3)))
    waited = time.perf_counter() - started
    assert results == [0, 10, 20] and echo.batches == [[0, 1, 2]] and sizes == [3]
    assert 0.02 <= waited < 0.5


async def test_results_are_matched_to_their_callers_whatever_the_answer_order() -> None:
    async def reversed_answer(items: list[int]) -> Mapping[int, int]:
        return dict(reversed([(i, item + 1000) for i, item in enumerate(items)]))

    batcher = MicroBatcher(handler=reversed_answer, max_size=5, max_wait_ms=5)
    assert await asyncio.gather(*(batcher.submit(i) for i in range(5))) == [
        1000,
        1001,
        1002,
        1003,
        1004,
    ]


async def test_a_partly_answered_batch_retries_the_missing_alone() -> None:
    echo = Echo(skip=frozenset({2, 3}))
    batcher = MicroBatcher(handler=echo, max_size=4, max_wait_ms=5)
    assert await asyncio.gather(*(batcher.submit(i) for i in range(4))) == [0, 10, 20, 30]
    assert echo.batches[0] == [0, 1, 2, 3]
    assert sorted(echo.batches[1:]) == [[2], [3]]
    assert batcher.single_retries == 2 and batcher.missing == 0


async def test_an_item_never_answered_fails_cleanly_and_the_rest_succeed() -> None:
    echo = Echo(skip=frozenset({1}), alone_ok=False)
    batcher = MicroBatcher(handler=echo, max_size=3, max_wait_ms=5)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)
    assert results[0] == 0 and results[2] == 20
    assert isinstance(results[1], MissingVerdictError)
    assert batcher.missing == 1


async def test_a_failing_handler_fails_the_whole_batch() -> None:
    async def broken(items: list[int]) -> Mapping[int, int]:
        raise RuntimeError("endpoint down")

    batcher = MicroBatcher(handler=broken, max_size=2, max_wait_ms=5)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(2)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_a_cancelled_caller_is_left_out_of_the_batch() -> None:
    echo = Echo()
    batcher = MicroBatcher(handler=echo, max_size=10, max_wait_ms=20)
    gone = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0)
    gone.cancel()
    assert await batcher.submit(2) == 20
    assert echo.batches == [[2]]


async def test_close_fails_what_is_queued() -> None:
    batcher = MicroBatcher(handler=Echo(), max_size=10, max_wait_ms=10_000)
    waiting = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0)
    await batcher.close()
    with pytest.raises(Exception, match="shutting down"):
        await waiting


async def test_while_every_slot_is_busy_items_gather_into_full_batches() -> None:
    release = asyncio.Event()
    batches: list[list[int]] = []

    async def slow(items: list[int]) -> Mapping[int, int]:
        batches.append(list(items))
        await release.wait()
        return dict(enumerate(items))

    batcher = MicroBatcher(handler=slow, max_size=4, max_wait_ms=1, max_concurrent=1)
    first = asyncio.ensure_future(batcher.submit(0))
    await asyncio.sleep(0.01)  # the first batch, alone, takes the only slot
    rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 10)]
    await asyncio.sleep(0.02)  # well past the wait: still nothing more goes out
    assert batches == [[0]]
    release.set()
    assert await asyncio.gather(first, *rest) == list(range(10))
    assert batches == [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9]]
