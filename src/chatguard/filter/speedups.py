"""The compiled forms of the lightweight filter's hottest loops, when they are built.

`_speedups` is a C extension compiled at install time (see hatch_build.py); each function in it
is the exact twin of a Python function kept beside it as the reference and the fallback:
`word_key` of `chatguard.filter.spam.words_key_python`, `token_counts` of
`chatguard.filter.spam.token_counts_python`, `observe_windows` of
`chatguard.filter.state.observe_windows_python`, `unleet_words` of
`chatguard.filter.skeleton.unleet_python`, `skeleton_views` of the views of
`chatguard.filter.skeleton.skeleton`, `spam_screens` of
`chatguard.filter.spam.SpamDetector.screen`, `plan_windows` of
`chatguard.filter.spam.SpamDetector._plan_python`, `KeyScanner` of the pyahocorasick form of
`chatguard.filter.scanner.KeyScanner`, `text_ends` of
`chatguard.filter.skeleton.text_ends_python`, `records` of `records_python` below. The tests
hold the two forms to the same
results. Set CHATGUARD_SPEEDUPS=0 to run the Python forms (to compare them, or to debug).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import ModuleType
from typing import Any, TypeVar

#: What the compiled module provides.
FUNCTIONS = (
    "word_key",
    "token_counts",
    "observe_windows",
    "unleet_words",
    "skeleton_views",
    "spam_screens",
    "plan_windows",
    "KeyScanner",
    "text_ends",
    "records",
)


def _load() -> ModuleType | None:
    if os.environ.get("CHATGUARD_SPEEDUPS") == "0":
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
