"""Which of a set of keys each text of a batch holds, in one Aho-Corasick pass over the joined
texts: the screen of the term matcher, the prompt-injection cues and the PII hints.

`KeyScanner` runs its ASCII keys through the compiled automaton of `chatguard.filter._speedups`
(a full transition table: a few instructions a character) when that is built, and the other
keys through `pyahocorasick`, which gives the same results.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

import ahocorasick

from chatguard.filter.skeleton import SEPARATOR, text_ends
from chatguard.filter.speedups import native

_NATIVE_SCANNER = native.KeyScanner if native is not None else None


class KeyScanner:
    """Finds the keys each text holds (as substrings, overlapping ones included)."""

    def __init__(self, keys: Sequence[str], *, compiled: bool = True) -> None:
        self.keys = tuple(keys)
        if any(not key or SEPARATOR in key for key in self.keys):
            raise ValueError("keys must be non-empty and must not hold the separator")
        self._native: Any = None
        self._native_keys: list[int] = []  # per key of the compiled automaton: its index
        self._automaton: Any = None
        other: dict[str, list[int]] = {}
        for index, key in enumerate(self.keys):
            if compiled and _NATIVE_SCANNER is not None and key.isascii():
                self._native_keys.append(index)
            else:
                other.setdefault(key, []).append(index)
        if self._native_keys:
            assert _NATIVE_SCANNER is not None
            self._native = _NATIVE_SCANNER([self.keys[i] for i in self._native_keys])
        if other:
            automaton = ahocorasick.Automaton()
            for key, at in other.items():
                automaton.add_word(key, tuple(at))
            automaton.make_automaton()
            self._automaton = automaton

    def scan(self, texts: Sequence[str]) -> dict[int, set[int]]:
        """For each text (by its index) that holds a key, the indices of the keys it holds."""
        if not self.keys or not texts:
            return {}
        joined = SEPARATOR.join(texts)
        found: dict[int, set[int]] = {}
        if self._native is not None:
            found = self._scan_native(joined, texts)
        if self._automaton is not None:
            for index, keys in self._scan_python(joined, text_ends(texts)).items():
                found.setdefault(index, set()).update(keys)
        return found

    def _scan_native(self, joined: str, texts: Sequence[str]) -> dict[int, set[int]]:
        if joined.count(SEPARATOR) == len(texts) - 1:
            found = self._native.scan(joined)
        else:  # a text holds the separator itself: each text on its own (the pieces between
            # its separators are scanned apart, as in the joined form)
            found = {}
            for index, text in enumerate(texts):
                pieces = self._native.scan(text)
                if pieces:
                    found[index] = set().union(*pieces.values())
        if len(self._native_keys) != len(self.keys):  # the compiled keys' own numbering
            at = self._native_keys
            found = {index: {at[key] for key in keys} for index, keys in found.items()}
        return found  # type: ignore[no-any-return]

    def _scan_python(self, joined: str, ends: list[int]) -> dict[int, set[int]]:
        """`scan` through pyahocorasick (the reference form of the compiled scanner). The
        separator is in no key, so no match spans two texts."""
        found: dict[int, set[int]] = {}
        index = -1
        keys: set[int] = set()
        for end, at in self._automaton.iter(joined):
            if index < 0 or end >= ends[index]:
                index = bisect_right(ends, end)
                keys = found.setdefault(index, set())
            keys.update(at)
        return found
