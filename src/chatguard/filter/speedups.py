"""The compiled kernels of the lightweight filter, when they are built.

`_speedups` is a C extension compiled at install time (see hatch_build.py). It holds only
generic kernels that take plain strings, byte tables, numbers, lists and dicts: counting the
tokens of a text, the sorted distinct words between break characters, reading the words that
hold a marked character, counting characters by class, mapping and squeezing runs (`tr -s`),
sliding windows of distinct members, an Aho-Corasick automaton, the offsets of joined texts,
named tuples from columns. None of them knows a message's fields, a window key, a category or
a threshold: the filter's modules decide those in Python and pass the tables and values in.

Each use has a Python form beside it, which runs when the module is not built or turned off,
with the same results (`tests/filter/test_speedups.py` holds the kernels to plain Python models,
`tests/filter/test_speedups_equivalence.py` the whole filter on the shipped chat samples).

Set CHATGUARD_SPEEDUPS=0 to run the Python forms (to compare them, to debug, or to test that
path: CI runs the filter tests a second time so).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import ModuleType
from typing import Any, TypeVar

#: The environment variable that turns the compiled kernels off when set to "0".
SWITCH = "CHATGUARD_SPEEDUPS"

#: What the compiled module provides.
FUNCTIONS = (
    "token_counts",
    "distinct_words",
    "translate_tokens",
    "char_profile",
    "squeeze",
    "observe_windows",
    "KeyScanner",
    "text_ends",
    "records",
)


def _load() -> ModuleType | None:
    if os.environ.get(SWITCH) == "0":
        return None
    try:
        from chatguard.filter import _speedups  # type: ignore[attr-defined]
    except ImportError:
        return None
    # A module built from an older source lacks what this one calls: run the Python forms.
    return _speedups if all(hasattr(_speedups, name) for name in FUNCTIONS) else None


#: The compiled module, or None when it is not built or turned off.
native: ModuleType | None = _load()


_Record = TypeVar("_Record", bound=tuple[Any, ...])


def records_python(cls: type[_Record], columns: Sequence[Sequence[Any]]) -> list[_Record]:
    """Instances of the named tuple class `cls`, one per row of `columns`, made with
    `tuple.__new__` (which skips a named tuple's Python-level `__new__`; one is made per
    message). (The reference form of the compiled `records`.)"""
    return [tuple.__new__(cls, row) for row in zip(*columns, strict=True)]


#: `records_python`, compiled when the speedups are built.
records = native.records if native is not None else records_python
