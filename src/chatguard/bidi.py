"""Display order of bidirectional text: the order in which a chat client shows the characters,
as indices into the text, so that a match found in the displayed order maps back to what the
user sent.

Bidi controls let a user send one order and show another: "\\u202eflesruoy llik" (a
right-to-left override) shows as "kill yourself"; an embedding or isolate with a right-to-left
mark reorders words ("\\u202byourself\\u200f kill\\u202c" shows "kill yourself"). Matching the
logical order alone misses these, so the normalizer also matches the displayed order
(`chatguard.normalize`).

This is the Unicode Bidirectional Algorithm (UAX #9) for one line per paragraph: the explicit
levels of embeddings, overrides and isolates exactly as X1-X10 give them (the part an attacker
uses), the weak and neutral types resolved per level run (W1-W7, N1-N2, without the bracket
pairs of N0), implicit levels (I1-I2), trailing whitespace at the paragraph level (L1) and the
reordering (L2). Mirrored glyphs (L4) do not move characters and are left out. The tests hold
it to the `unicode-bidi` implementation (`python-bidi`) on attack forms and ordinary
right-to-left chat; no library exposes the index map this needs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from unicodedata import bidirectional

#: The explicit formatting characters (embeddings, overrides, isolates, their terminators)
#: and the right-to-left marks: text holding none of these shows in its logical order unless
#: it holds right-to-left letters, which no Latin-script term matches either way.
BIDI_CONTROLS = re.compile("[\u061c\u200f\u202a-\u202e\u2066-\u2069]")

MAX_DEPTH = 125
#: How far an FSI looks for its first strong character. The algorithm looks to the matching
#: PDI; nested FSIs would make that quadratic, and no chat client's isolate is longer.
FSI_LOOKAHEAD = 512
_EMBEDDINGS = frozenset({"LRE", "RLE", "LRO", "RLO"})
_ISOLATES = frozenset({"LRI", "RLI", "FSI"})
_STRONG = frozenset({"L", "R", "AL"})
_NEUTRAL = frozenset({"B", "S", "WS", "ON", "LRI", "RLI", "FSI", "PDI"})
_WHITESPACE_L1 = frozenset({"WS", "LRI", "RLI", "FSI", "PDI"})


def has_bidi_controls(text: str) -> bool:
    """Does `text` hold a character that can make its display order differ (for Latin)?"""
    return not text.isascii() and BIDI_CONTROLS.search(text) is not None


@lru_cache(maxsize=4096)
def _class(char: str) -> str:
    return bidirectional(char) or "L"  # unassigned code points: left to right


def display_order(text: str) -> list[int]:
    """The indices of `text` in display order, paragraph by paragraph (each one line). The
    explicit formatting characters and boundary neutrals (X9) are left out."""
    classes = [_class(char) for char in text]
    order: list[int] = []
    start = 0
    for index, kind in enumerate(classes):
        if kind == "B":  # a paragraph separator ends a paragraph and stays where it is
            order += _paragraph(classes, start, index)
            order.append(index)
            start = index + 1
    order += _paragraph(classes, start, len(classes))
    return order


def _first_strong(classes: Sequence[str], start: int, end: int, *, to_pdi: bool) -> int | None:
    """P2: the level (0 or 1) the first strong character gives, skipping isolates; with
    `to_pdi`, stop at the PDI matching an isolate opened before `start` (for FSI)."""
    depth = 0
    for index in range(start, end):
        kind = classes[index]
        if kind in _ISOLATES:
            depth += 1
        elif kind == "PDI":
            if depth:
                depth -= 1
            elif to_pdi:
                return None
        elif depth == 0 and kind in _STRONG:
            return 0 if kind == "L" else 1
    return None


def _paragraph(classes: Sequence[str], start: int, end: int) -> list[int]:
    if start >= end:
        return []
    base = _first_strong(classes, start, end, to_pdi=False) or 0
    levels, types, removed = _explicit_levels(classes, start, end, base)
    kept = [i for i in range(end - start) if not removed[i]]
    _resolve(kept, levels, types, base)
    # L1: whitespace (and isolate controls) before the line's end go to the paragraph level.
    for i in reversed(kept):
        if classes[start + i] not in _WHITESPACE_L1:
            break
        levels[i] = base
    for position, i in enumerate(kept):
        if classes[start + i] == "S":  # a tab, and the whitespace before it
            levels[i] = base
            back = position - 1
            while back >= 0 and classes[start + kept[back]] in _WHITESPACE_L1:
                levels[kept[back]] = base
                back -= 1
    return [start + i for i in _reorder(kept, levels)]


def _explicit_levels(
    classes: Sequence[str], start: int, end: int, base: int
) -> tuple[list[int], list[str], list[bool]]:
    """X1-X9: each character's embedding level and type (overrides applied), and which are
    removed (embedding and override controls, PDF, boundary neutrals)."""
    count = end - start
    levels = [base] * count
    types = list(classes[start:end])
    removed = [False] * count
    # (level, override type or "", isolate?)
    stack: list[tuple[int, str, bool]] = [(base, "", False)]
    overflow_isolates = overflow_embeddings = valid_isolates = 0
    for i in range(count):
        kind = types[i]
        level, override, _ = stack[-1]
        if kind in _EMBEDDINGS:
            removed[i] = True
            levels[i] = level
            rtl = kind in ("RLE", "RLO")
            new = (level + 1) | 1 if rtl else (level + 2) & ~1
            if new <= MAX_DEPTH and not overflow_isolates and not overflow_embeddings:
                new_override = {"RLO": "R", "LRO": "L"}.get(kind, "")
                stack.append((new, new_override, False))
            elif not overflow_isolates:
                overflow_embeddings += 1
        elif kind in _ISOLATES:
            levels[i] = level
            if override:
                types[i] = override
            valid = level + 2 <= MAX_DEPTH and not overflow_isolates and not overflow_embeddings
            if kind == "FSI" and valid:  # (only a valid one looks ahead, and only so far)
                stop = min(end, start + i + 1 + FSI_LOOKAHEAD)
                inner = _first_strong(classes, start + i + 1, stop, to_pdi=True)
                kind = "RLI" if inner == 1 else "LRI"
            new = (level + 1) | 1 if kind == "RLI" else (level + 2) & ~1
            if new <= MAX_DEPTH and valid:
                valid_isolates += 1
                stack.append((new, "", True))
            else:
                overflow_isolates += 1
        elif kind == "PDI":
            if overflow_isolates:
                overflow_isolates -= 1
            elif valid_isolates:
                overflow_embeddings = 0
                while not stack[-1][2]:
                    stack.pop()
                stack.pop()
                valid_isolates -= 1
            level, override, _ = stack[-1]
            levels[i] = level
            if override:
                types[i] = override
        elif kind == "PDF":
            removed[i] = True
            levels[i] = level
            if overflow_isolates:
                pass
            elif overflow_embeddings:
                overflow_embeddings -= 1
            elif not stack[-1][2] and len(stack) >= 2:
                stack.pop()
        elif kind == "BN":
            removed[i] = True
            levels[i] = level
        else:
            levels[i] = level
            if override:
                types[i] = override
    return levels, types, removed


def _direction(level: int) -> str:
    return "R" if level & 1 else "L"


def _resolve(kept: list[int], levels: list[int], types: list[str], base: int) -> None:
    """W1-W7, N1-N2 and I1-I2 over each isolating run sequence (BD13): the level runs of the
    characters in `kept`, an isolate's outside joined across it from initiator to PDI."""
    embedding = list(levels)  # the runs and their boundaries are read before I1-I2 move them
    classes = list(types)
    matching = _matching_pdis(kept, classes)
    runs: list[list[int]] = []
    for i in kept:
        if runs and embedding[runs[-1][-1]] == embedding[i]:
            runs[-1].append(i)
        else:
            runs.append([i])
    starting = {run[0]: run for run in runs}
    matched = set(matching.values())
    position_of = {i: n for n, i in enumerate(kept)}
    for run in runs:
        if run[0] in matched:
            continue  # continues the sequence of its isolate initiator
        sequence = list(run)
        while sequence[-1] in matching and matching[sequence[-1]] in starting:
            sequence += starting[matching[sequence[-1]]]
        level = embedding[sequence[0]]
        first, last = position_of[sequence[0]], position_of[sequence[-1]]
        before = embedding[kept[first - 1]] if first else base
        if classes[sequence[-1]] in _ISOLATES and sequence[-1] not in matching:
            after = base  # an unmatched isolate initiator runs to the paragraph's end
        else:
            after = embedding[kept[last + 1]] if last + 1 < len(kept) else base
        _resolve_run(
            sequence, types, level, _direction(max(level, before)), _direction(max(level, after))
        )
        for i in sequence:
            kind = types[i]
            if level & 1:
                if kind in ("L", "EN", "AN"):
                    levels[i] = level + 1
            elif kind == "R":
                levels[i] = level + 1
            elif kind in ("AN", "EN"):
                levels[i] = level + 2


def _matching_pdis(kept: list[int], classes: list[str]) -> dict[int, int]:
    """BD9: each isolate initiator's matching PDI, by index (unmatched ones are absent)."""
    matching: dict[int, int] = {}
    open_isolates: list[int] = []
    for i in kept:
        kind = classes[i]
        if kind in _ISOLATES:
            open_isolates.append(i)
        elif kind == "PDI" and open_isolates:
            matching[open_isolates.pop()] = i
    return matching


def _resolve_run(run: list[int], types: list[str], level: int, sos: str, eos: str) -> None:
    previous = sos
    for i in run:  # W1: a combining mark takes the type before it
        if types[i] == "NSM":
            types[i] = "ON" if previous in _ISOLATES or previous == "PDI" else previous
        previous = types[i]
    strong = sos
    for i in run:  # W2, W3: European numbers after Arabic letters are Arabic numbers
        kind = types[i]
        if kind in _STRONG:
            strong = kind
            if kind == "AL":
                types[i] = "R"
        elif kind == "EN" and strong == "AL":
            types[i] = "AN"
    for a, b, c in zip(run, run[1:], run[2:], strict=False):  # W4: 1,000 and 1.5
        if types[a] == types[c] == "EN" and types[b] in ("ES", "CS"):
            types[b] = "EN"
        elif types[a] == types[c] == "AN" and types[b] == "CS":
            types[b] = "AN"
    index = 0
    while index < len(run):  # W5: terminators next to European numbers
        if types[run[index]] != "ET":
            index += 1
            continue
        end = index
        while end < len(run) and types[run[end]] == "ET":
            end += 1
        touches = (index and types[run[index - 1]] == "EN") or (
            end < len(run) and types[run[end]] == "EN"
        )
        if touches:
            for j in run[index:end]:
                types[j] = "EN"
        index = end
    for i in run:  # W6
        if types[i] in ("ES", "ET", "CS"):
            types[i] = "ON"
    strong = sos
    for i in run:  # W7: European numbers after Latin letters are Latin
        kind = types[i]
        if kind in ("L", "R"):
            strong = kind
        elif kind == "EN" and strong == "L":
            types[i] = "L"
    index = 0
    while index < len(run):  # N1, N2: neutrals between two of one direction take it
        if types[run[index]] not in _NEUTRAL:
            index += 1
            continue
        end = index
        while end < len(run) and types[run[end]] in _NEUTRAL:
            end += 1
        left = _strong_of(types[run[index - 1]]) if index else sos
        right = _strong_of(types[run[end]]) if end < len(run) else eos
        resolved = left if left == right else _direction(level)
        for j in run[index:end]:
            types[j] = resolved
        index = end


def _strong_of(kind: str) -> str:
    return "R" if kind in ("R", "AN", "EN") else "L"


def _reorder(kept: list[int], levels: list[int]) -> list[int]:
    """L2: from the highest level down to the lowest odd one, reverse every run at or above.

    Done in one pass, not one per level (deep embeddings would make that 125 passes): the
    runs form a tree (a run at one level holds the runs above it), built with a stack; a run
    reversed an odd number of times flips the order of what it holds, read out depth first."""
    if not kept:
        return []
    line = [levels[i] for i in kept]
    odd = [level for level in line if level & 1]
    if not odd:
        return list(kept)
    lowest_odd = min(odd)
    # A node: [lowest floor, highest floor, children (nodes and character indices)].
    root: list[Any] = [0, min(line), []]
    stack = [root]
    for index, level in zip(kept, line, strict=True):
        while stack[-1][0] > level:
            stack.pop()
        top = stack[-1]
        if level < top[1]:  # the runs above `level` end here: what top held becomes a node
            top[2] = [[level + 1, top[1], top[2]]]
            top[1] = level
        elif level > top[1]:
            child: list[Any] = [top[1] + 1, level, []]
            top[2].append(child)
            stack.append(child)
            top = child
        top[2].append(index)
    order: list[int] = []
    _read(root, False, lowest_odd, order)
    return order


def _read(node: list[Any], flipped: bool, lowest_odd: int, order: list[int]) -> None:
    low, high, children = node
    # The floors of this node at which its run is reversed: those from the lowest odd level.
    reversals = max(0, high - max(low, lowest_odd) + 1)
    flipped ^= reversals % 2 == 1
    for child in reversed(children) if flipped else children:
        if isinstance(child, int):
            order.append(child)
        else:
            _read(child, flipped, lowest_odd, order)
