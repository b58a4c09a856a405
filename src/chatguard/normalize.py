"""Text normalization against evasion, with a map from normalized offsets back to the original.

`normalize(text)` returns a `NormalizedText` whose `folded` form is lowercase, NFKC-folded,
stripped of zero-width and bidi controls and accents, with confusable letters (Cyrillic, Greek,
fullwidth, mathematical alphabets) folded to Latin. `origin[i]` is the index in the original
text of the character that produced `folded[i]`, so evidence found in `folded` can point at what
the user actually wrote.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from chatguard.bidi import BIDI_CONTROLS, display_order

# Zero-width characters, joiners, bidi embeddings/overrides/isolates, soft hyphen, BOM, and the
# invisible operators and fillers used to break words apart without showing anything.
INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u206a"
    "\u206b\u206c\u206d\u206e\u206f\u3164\ufe00\ufe01\ufe02\ufe03\ufe04\ufe05\ufe06\ufe07\ufe08"
    "\ufe09\ufe0a\ufe0b\ufe0c\ufe0d\ufe0e\ufe0f\ufeff\uffa0"
)

# Letters that look like Latin ones but NFKC leaves alone (Unicode's confusables, the part that
# matters for chat evasion). NFKC already folds fullwidth and mathematical alphabets.
# fmt: off
CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "а": "a",
    "в": "b",
    "с": "c",
    "ԁ": "d",
    "е": "e",
    "ё": "e",
    "һ": "h",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "к": "k",
    "ӏ": "l",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "ԛ": "q",
    "г": "r",
    "ѕ": "s",
    "т": "t",
    "у": "y",
    "ѵ": "v",
    "ԝ": "w",
    "х": "x",
    "ү": "y",
    "з": "3",
    "ч": "4",
    "ь": "b",
    "п": "n",
    "и": "u",
    "д": "d",
    "л": "n",
    "ш": "w",
    "щ": "w",
    "ц": "u",
    "я": "r",
    # Greek
    "α": "a",
    "β": "b",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "γ": "y",
    "ω": "w",
    "μ": "u",
    "σ": "o",
    "ς": "c",
    "λ": "a",
    "δ": "d",
    "θ": "o",
    "π": "n",
    # Armenian, Cherokee and other lookalikes seen in evasion
    "օ": "o",
    "ս": "u",
    "ց": "g",
    "հ": "h",
    "ո": "n",
    "ᴀ": "a",
    "ʙ": "b",
    "ᴄ": "c",
    "ᴅ": "d",
    "ᴇ": "e",
    "ꜰ": "f",
    "ɢ": "g",
    "ʜ": "h",
    "ɪ": "i",
    "ᴊ": "j",
    "ᴋ": "k",
    "ʟ": "l",
    "ᴍ": "m",
    "ɴ": "n",
    "ᴏ": "o",
    "ᴘ": "p",
    "ʀ": "r",
    "ꜱ": "s",
    "ᴛ": "t",
    "ᴜ": "u",
    "ᴠ": "v",
    "ᴡ": "w",
    "ʏ": "y",
    "ᴢ": "z",
    "ı": "i",
    "ȷ": "j",
    "ɑ": "a",
    "ɡ": "g",
    "ꞵ": "b",
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ħ": "h",
    "ŧ": "t",
    "ß": "ss",
    "æ": "ae",
    "œ": "oe",
    "þ": "th",
}
# fmt: on


MARKS = ("Mn", "Me")


@dataclass(frozen=True, slots=True)
class NormalizedText:
    original: str
    folded: str
    origin: tuple[int, ...] | None  # None means identity (folded[i] came from original[i])

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open span of `folded` back to the original text: the smallest range of
        the original holding every character the span came from (the displayed order of
        bidi text runs backwards through the original)."""
        if self.origin is None:
            return start, end
        if start >= end or not self.origin:
            return start, start
        covered = self.origin[start:end]
        if covered:
            first, last = min(covered), max(covered)
        else:  # past the end: the last character
            first = last = self.origin[-1]
        # Extend over the combining marks that belong to the span's last character ("t̵").
        stop = last + 1
        while stop < len(self.original) and unicodedata.category(self.original[stop]) in MARKS:
            stop += 1
        return first, min(stop, len(self.original))


@lru_cache(maxsize=65536)
def fold_char(char: str) -> str:
    """The folded form of one character: '' for invisible ones, else lowercase Latin where a
    lookalike exists, accents removed."""
    if char in INVISIBLE:
        return ""
    category = unicodedata.category(char)
    if category in ("Cf", "Mn", "Me"):  # format controls and combining marks
        return ""
    lowered = char.lower()
    if lowered in CONFUSABLES:
        return CONFUSABLES[lowered]
    folded = unicodedata.normalize("NFKC", lowered).lower()
    out = []
    for part in folded:
        if part in CONFUSABLES:
            out.append(CONFUSABLES[part])
            continue
        decomposed = unicodedata.normalize("NFKD", part)
        out.append("".join(ch for ch in decomposed if not unicodedata.combining(ch)))
    return "".join(out)


class _FoldTable(dict[int, str]):
    """`str.translate` table of `fold_char`, filled in as characters are first seen. Characters
    whose folded form is not exactly one character (invisible ones, ligatures) are also noted
    in `uneven`: only text holding one of those needs the per-character offset map."""

    __slots__ = ("uneven",)

    def __init__(self) -> None:
        super().__init__()
        self.uneven: set[str] = set()

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = fold_char(char)
        if len(folded) != 1:
            self.uneven.add(char)
        if len(self) < 65536:  # bounded like fold_char's cache: random text cannot grow it
            self[code] = folded
        return folded


_FOLD = _FoldTable()
# Slot setters: they build a NormalizedText without the frozen dataclass's __init__, which
# costs more than the ASCII fold itself (one is made per message).
_new = object.__new__
_slots = vars(NormalizedText)  # the slots' member descriptors
_set_original = _slots["original"].__set__
_set_folded = _slots["folded"].__set__
_set_origin = _slots["origin"].__set__


def _make(original: str, folded: str, origin: tuple[int, ...] | None) -> NormalizedText:
    result = _new(NormalizedText)
    _set_original(result, original)
    _set_folded(result, folded)
    _set_origin(result, origin)
    return result


def normalize(text: str) -> NormalizedText:
    """Fold `text` for matching and keep the offset map back to the original. Text holding
    bidi controls is folded in logical and in display order (see `_both_orders`)."""
    if text.isascii():
        return _make(text, text.lower(), None)
    # One C-level pass through the fold table; when every character folds to exactly one
    # character the offset map is the identity (kept as a tuple: non-ASCII text always has
    # one, and `original_span` treats it as such).
    folded = text.translate(_FOLD)
    if _FOLD.uneven.isdisjoint(text):
        return _make(text, folded, tuple(range(len(text))))
    # Every bidi control folds to nothing, so only text on this path can hold one.
    origin = _origin_map(text)
    if BIDI_CONTROLS.search(text) is not None:
        return _both_orders(text, folded, origin)
    return _make(text, folded, origin)


#: Between the logical and the displayed order in `folded`: a line break, so no word (and no
#: term, which matches whole words) runs from one order into the other.
ORDER_SEPARATOR = "\n"


def _both_orders(text: str, folded: str, origin: tuple[int, ...]) -> NormalizedText:
    """The logical fold, then the fold of the characters in the order a chat client displays
    them ("\u202eflesruoy llik" is shown, and so also matched, as "kill yourself"). Each
    displayed character maps to its own index in the original, so a match in either order
    points at what the user sent. When the display order folds to the same text, only one."""
    shown: list[str] = []
    shown_origin: list[int] = []
    for index in display_order(text):
        part = _FOLD[ord(text[index])]
        if part:
            shown.append(part)
            shown_origin.extend([index] * len(part))
    displayed = "".join(shown)
    if displayed == folded:
        return _make(text, folded, origin)
    joint = origin[-1] if origin else 0
    return _make(
        text,
        folded + ORDER_SEPARATOR + displayed,
        (*origin, joint, *shown_origin),
    )


def _origin_map(text: str) -> tuple[int, ...]:
    origin: list[int] = []
    for index, char in enumerate(text):
        width = len(fold_char(char))
        if width == 1:
            origin.append(index)
        elif width:
            origin.extend([index] * width)
    return tuple(origin)
