"""The matching skeleton: the folded text with leetspeak, letter spacing and repeated letters
undone, so that `f4ck`, `f u c k`, `f.u.c.k` and `fuuuck` all read `fuck`.

Built on top of `chatguard.normalize` (which already removed invisible characters, accents and
homoglyphs). Two views, each cheap to build with C-level string operations:

- `spaced`: the folded text with leetspeak mapped inside words, single letters separated by
  spaces or dots joined back, and every non-word character turned into a space. Its offsets map
  to the folded text through `to_folded` (identity unless letters were joined). A disguised
  vowel is written as a capital letter ("f4ck" -> "fAck", "sh!t" -> "shIt").
- `collapsed`: `spaced` with every vowel read as "a" and every run of a repeated character cut
  to one, padded with a space at each end. The automaton runs on this view: a whole word is
  always ` word `.

Matches found in `collapsed` are confirmed by a regular expression on `spaced` (which also checks
the repeat counts a term needs, so "as" is not taken for "ass"), and that match's span maps back
to the original text.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from chatguard.normalize import NormalizedText

#: Characters that stand for letters inside a word. Those that stand for vowels become capital
#: letters, a mark that the vowel was disguised: a disguised vowel may stand for any vowel
#: ("f4ck", "sh1t", "f*ck"), a plainly written one only for itself. `!`, `|` and `*` only count
#: between letters ("sh!t"), never at a word's edge, where they are punctuation.
LEET: dict[str, str] = {
    "0": "O",
    "1": "I",
    "3": "E",
    "4": "A",
    "@": "A",
    "!": "I",
    "|": "I",
    "*": "X",
    "5": "s",
    "$": "s",
    "7": "t",
    "+": "t",
    "8": "b",
    "9": "g",
}
#: What a disguised vowel may stand for, in the confirmation regexes.
DISGUISED_VOWELS = "AEIOX"
_LEET_TABLE = str.maketrans(LEET)
_LEET_GATE = re.compile(r"[0-9@$+!|*]")
# Anchored at a token's start, so a long word is not rescanned from every letter.
_LEET_TOKEN = re.compile(r"(?<![a-z0-9@$+!|*])[a-z0-9@$+!|*]*[0-9@$+!|*][a-z0-9@$+!|*]*")
_HAS_LETTER = re.compile(r"[a-z]")
_EDGE_PUNCT = "!|+*"
# The automaton's view is blind to vowels (plain or disguised); the regex check restores them.
_VOWEL_BLIND = str.maketrans({c: "a" for c in "aeiouAEIOX"})

#: Three or more single letters or digits separated by spacing characters: "f u c k", "f.u.c.k".
_SPACED_LETTERS = re.compile(
    r"(?<![a-z0-9@$])[a-z0-9@$](?:[\s.\-_*,/\\~+|:;'\"]+[a-z0-9@$](?![a-z0-9@$])){2,}"
)
# Two single letters in a row: cheaper to look for, and needed by every spaced-out word.
_SPACED_GATE = re.compile(
    r"(?<![a-z0-9@$])[a-z0-9@$][\s.\-_*,/\\~+|:;'\"]+[a-z0-9@$](?![a-z0-9@$])"
)
_SPACING = re.compile(r"[\s.\-_*,/\\~+|:;'\"]+")

# Every character that is not a letter or digit becomes a space (ASCII: the byte table below;
# other text: this regex, which knows every script's letters).
_NON_WORD = re.compile(r"[\W_]")
_RUNS = re.compile(r"(.)\1+", re.DOTALL)
_RUN_CHARS = re.compile(rb"(.)\1", re.DOTALL)
# The ASCII path works on bytes: bytes.translate with a 256-byte table is many times faster than
# str.translate with a dict.
_ASCII_SPACE_BYTES = bytes(c if chr(c).isalnum() and c < 128 else 32 for c in range(256))
_VOWEL_BLIND_BYTES = bytes(ord("a") if chr(c) in "aeiouAEIOX" else c for c in range(256))


class Skeleton(NamedTuple):
    """The matching views of one message (see the module docstring). Immutable; a named tuple
    because one is made per message and a tuple is the cheapest immutable record."""

    normalized: NormalizedText
    spaced: str
    collapsed: str
    to_folded: tuple[int, ...] | None  # None: spaced[i] came from folded[i]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open span of `spaced` to the original text."""
        if self.to_folded is not None:
            if start >= end:
                return self.normalized.original_span(0, 0)
            first = self.to_folded[start]
            last = self.to_folded[end - 1]
            start, end = first, last + 1
        return self.normalized.original_span(start, end)


def _unleet(match: re.Match[str]) -> str:
    token = match.group(0)
    if not _HAS_LETTER.search(token):
        return token  # a number or a price, not a disguised word
    # Leading and trailing '!', '|', '+' are punctuation ("gg!", "!command"), not letters.
    head = len(token) - len(token.lstrip(_EDGE_PUNCT))
    tail = len(token.rstrip(_EDGE_PUNCT))
    if head >= tail:
        return token
    return token[:head] + token[head:tail].translate(_LEET_TABLE) + token[tail:]


def _join_spaced(folded: str) -> tuple[str, tuple[int, ...] | None]:
    """Remove the spacing inside runs of single letters; return the text and its offset map."""
    gate = _SPACED_GATE.search(folded)
    if gate is None or not _SPACED_LETTERS.search(folded, gate.start()):
        return folded, None
    parts: list[str] = []
    origin: list[int] = []
    position = 0
    for run in _SPACED_LETTERS.finditer(folded):
        parts.append(folded[position : run.start()])
        origin.extend(range(position, run.start()))
        for index in range(run.start(), run.end()):
            if not _SPACING.fullmatch(folded[index]):
                parts.append(folded[index])
                origin.append(index)
        position = run.end()
    parts.append(folded[position:])
    origin.extend(range(position, len(folded)))
    return "".join(parts), tuple(origin)


def skeleton(normalized: NormalizedText) -> Skeleton:
    """Build the matching views of a normalized message."""
    text, to_folded = _join_spaced(normalized.folded)
    if _LEET_GATE.search(text):
        text = unleet(text)
    if text.isascii():
        raw = text.encode("ascii").translate(_ASCII_SPACE_BYTES)
        spaced = raw.decode("ascii")
        collapsed = " " + _collapse_ascii(raw.translate(_VOWEL_BLIND_BYTES)) + " "
    else:
        spaced = _NON_WORD.sub(" ", text)
        collapsed = " " + _RUNS.sub(r"\1", spaced.translate(_VOWEL_BLIND)) + " "
    return Skeleton(normalized, spaced, collapsed, to_folded)


def _collapse_ascii(raw: bytes) -> str:
    # A few C-level replaces per doubled character beat a regex substitution, whose template
    # is expanded in Python for every run.
    for char in set(_RUN_CHARS.findall(raw)):
        double = char + char
        while double in raw:
            raw = raw.replace(double, char)
    return raw.decode("ascii")


def unleet(text: str) -> str:
    """Read leetspeak inside the words of folded text ("f4ck" -> "fAck", "$hit" -> "shit");
    the length does not change."""
    return _LEET_TOKEN.sub(_unleet, text)


def collapse(text: str) -> str:
    """The automaton's view of a term or text: vowels blinded, repeated characters cut to one."""
    return _RUNS.sub(r"\1", text.translate(_VOWEL_BLIND))
