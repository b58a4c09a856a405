"""The collector settings a server runs with."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from chatguard.runtime import SERVING_YOUNG_THRESHOLD, tune_gc_for_serving


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_serving_freezes_start_up_objects_and_raises_the_young_threshold() -> None:
    made_at_start: list[list[int]] = [[] for _ in range(3)]
    _, older, oldest = gc.get_threshold()
    assert tune_gc_for_serving() == (SERVING_YOUNG_THRESHOLD, older, oldest)
    # Frozen objects sit in the permanent generation, which no collection walks.
    walked = gc.get_objects()
    assert not any(obj is made_at_start for obj in walked)
    made_later: list[list[int]] = [[]]
    assert any(obj is made_later for obj in gc.get_objects())


@pytest.mark.usefixtures("restored_gc")
def test_zero_leaves_the_collector_alone() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    assert tune_gc_for_serving(0) == before
    assert gc.get_freeze_count() == frozen
