"""The store writes its JSON columns with `chatguard.storage.json_text`: the values read back
are the ones written, whatever the text holds."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chatguard.storage import json_text
from chatguard.storage.store import SqlStore
from tests.storage.test_sqlite_rows import entries

VALUES: list[Any] = [
    {"action": "delete", "scores": {"harassment": 0.30000000000000004, "spam": 1e-12}},
    {"reason": 'ünïcödé ✓ 日本語 "quoted" \\ tab\tnew\nline', "nul": "a\x00b"},
    {"lone": "half a pair \ud83d here", "list": [1, 2.5, None, True, False, []]},
    {"big": 2**63, "negative": -0.0, "nested": {"a": {"b": {"c": ["d"]}}}},
    ["top", "level", ("a", "tuple")],
]


@pytest.mark.parametrize("value", VALUES)
def test_what_is_read_back_is_what_was_written(value: Any) -> None:
    text = json_text.dumps(value)
    assert json.loads(text) == json.loads(json.dumps(value))


def test_non_finite_floats_are_written_as_the_standard_library_writes_them() -> None:
    back = json.loads(json_text.dumps({"a": math.nan, "b": math.inf, "c": -math.inf}))
    assert math.isnan(back["a"]) and back["b"] == math.inf and back["c"] == -math.inf


def test_a_value_json_cannot_hold_is_refused() -> None:
    with pytest.raises(TypeError):
        json_text.dumps({"a": object()})


async def test_the_stored_columns_are_written_by_it(tmp_path: Path) -> None:
    made = await entries(tmp_path)
    path = tmp_path / "stored.db"
    store = SqlStore(f"sqlite+aiosqlite:///{path}")
    await store.start()
    try:
        await store.save_entries(made)
        by_id = {e.message_id: e for e in made}
        with sqlite3.connect(path) as connection:
            stored = connection.execute("SELECT message_id, response FROM decisions").fetchall()
        assert len(stored) == len(made)
        for message_id, text in stored:
            assert text == json_text.dumps(by_id[message_id].response)
        looked_up = await store.get_many(list(by_id))
        assert {i: s.response for i, s in looked_up.items()} == {
            i: e.response for i, e in by_id.items()
        }
    finally:
        await store.close()
