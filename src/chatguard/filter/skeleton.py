"""The matching skeleton: the folded text with leetspeak, letter spacing and repeated letters
undone, so that `f4ck`, `f u c k`, `f.u.c.k` and `fuuuck` all read `fuck`.

Built on top of `chatguard.normalize` (which already removed invisible characters, accents and
homoglyphs). Two views, each cheap to build with C-level string operations:

- `spaced`: the folded text with leetspeak mapped inside words, single letters separated by
  spaces or dots joined back, and every non-word character turned into a space. Its offsets map
  to the folded text through `to_folded` (identity unless letters were joined). A disguised
  vowel is written as a capital letter ("f4ck" -> "fAck", "sh!t" -> "shIt").
- `collapsed`: `spaced` with every vowel read as "a" and every run of a repeated character cut
  to one, padded with a space at each end: a whole word is always ` word `. The term automaton
  runs on this view for text with a disguised vowel.
- `plain`: `spaced` with every run of a repeated character cut to one, padded likewise. Text
  without a disguised vowel can only match a term with the vowels it has, so the term automaton
  runs on this view for such text (most chat), and finds far fewer candidates.

Matches found in `collapsed` are confirmed by a regular expression on `spaced` (which also checks
the repeat counts a term needs, so "as" is not taken for "ass"), and that match's span maps back
to the original text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import NamedTuple

import numpy as np

from chatguard.filter.speedups import native, records
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

#: A letter or digit that may stand alone in a spaced-out word.
_LONE_LETTER = r"[a-z0-9@$]"
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
    plain: str
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
        if _SQUEEZE is not None:
            collapsed, plain = _squeezed_views([spaced])[0]
        else:
            collapsed = " " + _collapse_ascii(raw.translate(_VOWEL_BLIND_BYTES)) + " "
            plain = " " + _collapse_ascii(raw) + " "
    else:
        spaced = _NON_WORD.sub(" ", text)
        if _SQUEEZE is not None:
            collapsed, plain = _squeezed_views([spaced])[0]
        else:
            collapsed = " " + _RUNS.sub(r"\1", spaced.translate(_VOWEL_BLIND)) + " "
            plain = " " + _RUNS.sub(r"\1", spaced) + " "
    return Skeleton(normalized, spaced, collapsed, plain, to_folded)


def _collapse_ascii(raw: bytes) -> str:
    # A few C-level replaces per doubled character beat a regex substitution, whose template
    # is expanded in Python for every run.
    for char in set(_RUN_CHARS.findall(raw)):
        double = char + char
        while double in raw:
            raw = raw.replace(double, char)
    return raw.decode("ascii")


#: Joins a batch's texts into one string for the vectorized passes. It is in none of the
#: character classes below (so no match crosses from one text into the next) and no view holds
#: it (the views turn it into a space); a text that holds it is built on its own.
SEPARATOR = "\x00"


def _byte_classes(**classes: str) -> bytes:
    """A byte table mapping each ASCII character to the letter of the first one-character
    pattern it matches (`#` if none): the vectorized checks below work on this small alphabet,
    derived from the regular expressions above so that the two paths cannot disagree."""
    compiled = [(re.compile(pattern), name) for name, pattern in classes.items()]
    table = bytearray(b"#" * 256)
    for code in range(128):
        for regex, name in compiled:
            if regex.fullmatch(chr(code)):
                table[code] = ord(name)
                break
    table[0] = ord("#")  # the separator: a boundary, as the start and end of a text are
    return bytes(table)


#: Lone letters: `a` (a letter or digit of `_SPACED_LETTERS`), ` ` (spacing), `#` (other).
_SPACED_CLASSES = _byte_classes(a=_LONE_LETTER, s=_SPACING.pattern[:-1]).replace(b"s", b" ")
#: `_SPACED_GATE` on that alphabet, led by a boundary so the regex engine can skip ahead to
#: each space or boundary instead of trying every position.
_SPACED_GATE_CLASSES = re.compile(rb"[ #]a +a(?!a)")
#: For the compiled path: that alphabet with runs of spacing cut to one (the `squeeze`
#: kernel), where `_SPACED_GATE` is a lone letter, one space, a lone letter, each letter
#: between boundaries; these strings, found by one Aho-Corasick pass over the batch.
_SPACING_ONLY = bytes(c == ord(" ") for c in range(256))
_SPACED_GATE_SCANNER = (
    native.KeyScanner([before + "a a" + after for before in " #" for after in " #"])
    if native is not None
    else None
)


def _may_hold_spaced_letters(folded: list[str], joined: str) -> list[int]:
    """The indices of the ASCII texts of a batch (`folded`, and `joined` by SEPARATOR with
    none inside and each non-ASCII character as "?") in which `_SPACED_GATE` may find two
    single letters in a row, in order; each is then checked by `_join_spaced`."""
    if _SQUEEZE is not None and _SPACED_GATE_SCANNER is not None:
        classes = _SQUEEZE(folded, _SPACED_CLASSES, "#", _SPACING_ONLY, ascii_only=True)
        found = _SPACED_GATE_SCANNER.scan(SEPARATOR.join([c or "" for c in classes]))
        return sorted(found)
    ends = text_ends(folded)
    # Led by a boundary for the first text; a match's lone letter is at its start + 1 - 1.
    indices = {
        bisect_right(ends, match.start())
        for match in _SPACED_GATE_CLASSES.finditer(
            b"#" + joined.encode("ascii").translate(_SPACED_CLASSES)
        )
    }
    return sorted(i for i in indices if folded[i].isascii())


#: A leet character, and the rest of its text (one match per text at most).
_LEET_IN_TEXT = re.compile(r"[0-9@$+!|*][^\x00]*")
_SPACE_KEEP_SEP = b"\x00" + _ASCII_SPACE_BYTES[1:]


_new_skeleton = tuple.__new__
#: A skeleton's views without its normalized text: spaced, collapsed, plain, to_folded.
_Views = tuple[str, str, str, tuple[int, ...] | None]
_plus_one = (1).__add__


def text_ends_python(texts: Sequence[str]) -> list[int]:
    """Where each text of `SEPARATOR.join(texts)` ends, its separator included: the text
    holding position p is `bisect_right(ends, p)`. (The reference form of `text_ends`.)"""
    return list(accumulate(map(_plus_one, map(len, texts))))


#: `text_ends_python`, compiled when the speedups are built.
text_ends = native.text_ends if native is not None else text_ends_python


def skeletons(batch: Sequence[NormalizedText]) -> list[Skeleton]:
    """`[skeleton(n) for n in batch]`, built for the whole batch at once.

    The texts are joined and the checks and mappings run once over the whole batch at C level:
    which texts may hold spaced-out letters or leetspeak (most hold neither, and skip those
    steps), the space mapping, vowel blinding and run collapsing (the compiled `squeeze` kernel
    when it is built, else vectorized with numpy), so a message costs a few C calls instead of
    a Python-level replace loop per repeated character.
    """
    count = len(batch)
    if count < 4:
        return [skeleton(n) for n in batch]
    folded = [normalized.folded for normalized in batch]
    joined = SEPARATOR.join(folded)
    if joined.count(SEPARATOR) != count - 1:  # a text holds the separator itself
        return _skeletons_apart(batch)
    # Every text the ASCII way in columns (a non-ASCII character reads "?" there), then the
    # few that need more built again: non-ASCII text, and text with spaced-out letters.
    other = [] if joined.isascii() else [i for i, text in enumerate(folded) if not text.isascii()]
    spaced, collapsed, plain, own = _ascii_columns(
        joined.encode("ascii", "replace").decode("ascii"), folded
    )
    result: list[Skeleton] = records(Skeleton, (batch, spaced, collapsed, plain, [None] * count))
    if other:
        views: list[_Views | None] = [None] * count
        _other_views([folded[i] for i in other], other, views)
        for index in other:
            result[index] = _new_skeleton(Skeleton, (batch[index], *views[index]))  # type: ignore[misc]
    for index in own:
        result[index] = skeleton(batch[index])
    return result


def _skeletons_apart(batch: Sequence[NormalizedText]) -> list[Skeleton]:
    """`skeletons` for a batch in which a text holds the separator: those texts are built on
    their own, the others as a batch."""
    apart = [SEPARATOR in normalized.folded for normalized in batch]
    rest = iter(skeletons([n for n, alone in zip(batch, apart, strict=True) if not alone]))
    return [
        skeleton(normalized) if alone else next(rest)
        for normalized, alone in zip(batch, apart, strict=True)
    ]


#: The identity byte table: the plain view squeezes the spaced view as it is.
_IDENTITY_BYTES = bytes(range(256))
_SQUEEZE = native.squeeze if native is not None else None


def _squeezed_views(spaced: list[str]) -> list[tuple[str, str]]:
    """The (collapsed, plain) views of spaced views, through the compiled `squeeze`: vowels
    blinded or not, runs cut to one, a space at either end."""
    assert _SQUEEZE is not None
    return list(zip(_SQUEEZE(spaced, _VOWEL_BLIND_BYTES, " "),
                    _SQUEEZE(spaced, _IDENTITY_BYTES, " "), strict=True))  # fmt: skip


def _ascii_columns(
    joined: str, folded: list[str]
) -> tuple[list[str], list[str], list[str], list[int]]:
    """The spaced, collapsed and plain views of the ASCII texts `joined` (separated by
    SEPARATOR, none inside), as three columns, and the indices of the ASCII texts whose
    spaced-out letters are joined (their views here are not theirs: they are built on their
    own)."""
    own = [
        index
        for index in _may_hold_spaced_letters(folded, joined)
        if folded[index].isascii() and _join_spaced(folded[index])[1] is not None
    ]
    # Leetspeak keeps the length. The compiled kernel reads the whole batch in one pass: its
    # tokens never cross a separator (no token character), so the joined texts read as each
    # text on its own would. The Python form reads the texts that hold a leet character.
    if _TRANSLATE_TOKENS is not None:
        joined = unleet(joined)
    elif _LEET_GATE.search(joined):
        texts = joined.split(SEPARATOR)
        ends = text_ends(texts)
        for match in _LEET_IN_TEXT.finditer(joined):
            index = bisect_right(ends, match.start())
            texts[index] = unleet_python(texts[index])
        joined = SEPARATOR.join(texts)
    spaced = joined.encode("ascii").translate(_SPACE_KEEP_SEP)
    spaced_all = spaced.decode("ascii").split(SEPARATOR)
    if _SQUEEZE is not None:
        collapsed_all = _SQUEEZE(spaced_all, _VOWEL_BLIND_BYTES, " ")
        plain_all = _SQUEEZE(spaced_all, _IDENTITY_BYTES, " ")
    else:
        blind = np.frombuffer(spaced.translate(_VOWEL_BLIND_BYTES), dtype=np.uint8)
        collapsed_all = _padded(_collapse_runs(blind).tobytes().decode("ascii"))
        plain = np.frombuffer(spaced, dtype=np.uint8)
        plain_all = _padded(_collapse_runs(plain).tobytes().decode("ascii"))
    return spaced_all, collapsed_all, plain_all, own


def _other_views(
    texts: list[str],
    at: list[int],
    views: list[_Views | None],
) -> None:
    """The views of other texts: per-message steps, run collapsing batched (the compiled
    `squeeze` kernel, which reads any text, or numpy)."""
    spaced_list = []
    maps = []
    for folded in texts:
        text, to_folded = _join_spaced(folded)
        if _LEET_GATE.search(text):
            text = unleet(text)
        spaced_list.append(_NON_WORD.sub(" ", text))  # the separator cannot survive this
        maps.append(to_folded)
    if _SQUEEZE is not None:
        collapsed_all = _SQUEEZE(spaced_list, _VOWEL_BLIND_BYTES, " ")
        plain_all = _SQUEEZE(spaced_list, _IDENTITY_BYTES, " ")
    else:
        joined = SEPARATOR.join(spaced_list)
        collapsed_all = _collapsed_views(joined.translate(_VOWEL_BLIND))
        plain_all = _collapsed_views(joined)
    for position, index in enumerate(at):
        views[index] = (
            spaced_list[position],
            collapsed_all[position],
            plain_all[position],
            maps[position],
        )


def _collapsed_views(joined: str) -> list[str]:
    """The texts of `SEPARATOR.join(texts)` with their runs collapsed, padded (numpy)."""
    wide = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return _padded(_collapse_runs(wide).tobytes().decode("utf-32-le", "surrogatepass"))


def _padded(joined: str) -> list[str]:
    """The texts of `SEPARATOR.join(texts)`, each with a space at either end (as the
    collapsed view is), in three C-level calls for the batch."""
    return (" " + joined.replace(SEPARATOR, " " + SEPARATOR + " ") + " ").split(SEPARATOR)


def _collapse_runs(codes: np.ndarray) -> np.ndarray:
    """`codes` with every run of one character cut to one; separators are never merged (two in
    a row hold an empty text between them)."""
    if len(codes) < 2:
        return codes
    keep = np.empty(len(codes), dtype=bool)
    keep[0] = True
    np.not_equal(codes[1:], codes[:-1], out=keep[1:])
    keep |= codes == 0
    return codes[keep]


class _WordReadings(dict[str, str]):
    """Each space-separated word as `unleet` reads it, filled in as words are first seen: chat
    repeats its words, and `str.join(map(...))` over a dict is a C-level loop where the regex
    and its callback ran per word. Bounded: cleared when full."""

    __slots__ = ()
    limit = 65536

    def __missing__(self, word: str) -> str:
        if word.isalpha() or not _LEET_GATE.search(word) or not _HAS_LETTER.search(word):
            read = word  # no leet character, or no letter for one to sit in: nothing to read
        else:
            read = _LEET_TOKEN.sub(_unleet, word)
        if len(self) >= self.limit:
            self.clear()
        self[word] = read
        return read


_UNLEET_WORDS = _WordReadings()
_read_word = _UNLEET_WORDS.__getitem__


def unleet_python(text: str) -> str:
    """Read leetspeak inside the words of folded text ("f4ck" -> "fAck", "$hit" -> "shit");
    the length does not change. (The reference form of `unleet`.)"""
    # A space is no token character, so each space-separated word reads on its own.
    return " ".join(map(_read_word, text.split(" ")))


_TRANSLATE_TOKENS = native.translate_tokens if native is not None else None
#: The leetspeak reading as the tables of the `translate_tokens` kernel: a token is a run of
#: `_LEET_TOKEN`'s characters; one holding a leet character (`_LEET_GATE`) and a letter
#: (`_HAS_LETTER`) is read through `LEET`, the edge punctuation `_EDGE_PUNCT` at its ends left
#: as it is. Derived from the regular expressions, so the two forms cannot disagree.
_TOKEN_FLAGS = bytes(
    (c < 128 and bool(_LEET_TOKEN.fullmatch(chr(c)) or _HAS_LETTER.fullmatch(chr(c))))
    | (c < 128 and bool(_LEET_GATE.fullmatch(chr(c)))) << 1
    | (c < 128 and bool(_HAS_LETTER.fullmatch(chr(c)))) << 2
    | (c < 128 and chr(c) in _EDGE_PUNCT) << 3
    for c in range(256)
)
_LEET_BYTES = bytes(ord(LEET.get(chr(c), chr(c))) if c < 128 else c for c in range(256))


def unleet(text: str) -> str:
    """`unleet_python`, through the compiled `translate_tokens` kernel (ASCII text) when that
    is built."""
    if _TRANSLATE_TOKENS is not None:
        read = _TRANSLATE_TOKENS(text, _TOKEN_FLAGS, _LEET_BYTES)
        if read is not NotImplemented:
            return read  # type: ignore[no-any-return]
    return unleet_python(text)


def clear_caches() -> None:
    """Forget the cached word readings (benchmarks start cold with this)."""
    _UNLEET_WORDS.clear()


def collapse(text: str) -> str:
    """The automaton's view of a term or text: vowels blinded, repeated characters cut to one."""
    return collapse_runs(text.translate(_VOWEL_BLIND))


def collapse_runs(text: str) -> str:
    """`text` with every run of one character cut to one (the plain view of a term)."""
    return _RUNS.sub(r"\1", text)
