"""Hashed character and word n-gram features, computed for a whole batch at once in numpy.

A batch of texts becomes one array of code points; every n-gram of every text is hashed with
vectorized uint64 arithmetic, so the cost per message is a few numpy passes over its characters
and no Python loop runs per character or per n-gram. Training and inference call the same code,
so the features a model was trained on are the features it sees in production, bit for bit,
whatever library versions are installed.

The result is a sparse batch made of blocks (one per n-gram kind), each a pair of arrays
(`doc`, `bucket`) sorted by `doc`: text `doc` has n-gram `bucket`. Every n-gram of a text weighs
`scale[doc]` = 1/sqrt(number of n-grams of the text), an approximate L2 normalization that keeps
long and short messages on one scale. Keeping the blocks apart (each already in text order) lets
inference sum per text with `np.add.reduceat` and no sort.

Word-level blocks (word unigrams and bigrams, and the target features) come after the character
blocks, with a scale of their own (`word_scale`), so a head can be read from whole words only:
the profanity head is, which keeps "cocktail" and "classic" from inheriting the character
n-grams of the swear words inside them.

Embedded words (`mask_embedded`): an ordinary word with a swear word, slur or sexual term
inside it ("grape", "scrap", "bitcoin", "niggle"; the shipped list `data/embedded_words.txt`,
built by `scripts/embedded_words.py`) gives no character n-gram that touches it, only its word
features, so it cannot inherit the weights of the term inside it. The list's digest is part of
the model (`embedded_words_sha256` in the manifest).

Target features (`target_cross`): a text that addresses someone (a second-person word such as
"you", "ur", "u", or an @mention) gets one marker feature plus a copy of each of its words
hashed with another seed. The linear model can then weigh "fucking" in "you fucking noob"
differently from "fucking" in "this boss is fucking hard".

Self features (`self_cross`): a chat-length text (at most `SELF_MAX_WORDS` words) about the
speaker alone (a first-person singular word such as "i", "im", "myself", or with `self_cross`
2 a phrase that names the speaker such as "by me", "of me", "my bad", "my fault"; and no
second- or third-person word or @mention) gets a marker of its own and a copy of each of its
words hashed with a third seed, so "idiot" in "idiot move by me" or "i'm so bad at this" can
weigh apart from "idiot" said of someone else. "my" and "me" alone do not count ("my team is
trash" is about the team, "blow me" about someone else), and longer texts are left alone: a
prompt that says "tell me" is not about its writer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np

#: Separates texts in the batch buffer; no n-gram may cross it.
_SEP = 0
_SPACE = ord(" ")
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_BASE = np.uint64(0x100000001B3)
_WORD_SEED = np.uint64(0x9E3779B97F4A7C15)
_BIGRAM_SEED = np.uint64(0xC2B2AE3D27D4EB4F)
_TARGET_SEED = np.uint64(0x165667B19E3779F9)
_TARGET_MARK = np.uint64(0x27D4EB2F165667C5)
_SELF_SEED = np.uint64(0x85EBCA77C2B2AE63)
_SELF_MARK = np.uint64(0x61C8864680B583EB)
_AT = ord("@")
#: BASE**k mod 2**64 for k < 64.
_POWERS = np.array([pow(int(_BASE), k, 1 << 64) for k in range(64)], dtype=np.uint64)
#: One hash seed per character n-gram order, so "ab" and the word "ab" land apart.
_ORDER_SEEDS = np.array([(n * int(_WORD_SEED)) % (1 << 64) for n in range(16)], dtype=np.uint64)


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """What the featurizer extracts. Stored in the model manifest; a model only ever runs with
    the configuration it was trained with."""

    buckets_log2: int = 18
    char_min: int = 2
    char_max: int = 5
    word_ngrams: int = 2
    max_chars: int = 1000
    squeeze_repeats: int = 2
    #: 1: add the target marker and the target-crossed words (see the module docstring).
    target_cross: int = 0
    #: 1: add the self marker and the self-crossed words (see the module docstring); 2: also
    #: for texts whose speaker is named by a phrase ("by me", "my bad"), not a word alone.
    self_cross: int = 0
    #: 1: no character n-gram touches a word of the embedded-words list (module docstring).
    mask_embedded: int = 0

    @property
    def buckets(self) -> int:
        return 1 << self.buckets_log2

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> FeatureConfig:
        known = {k: int(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True, slots=True)
class SparseBatch:
    """Features of `n_docs` texts: blocks of (doc, bucket) sorted by doc, and a scale per doc."""

    n_docs: int
    blocks: tuple[tuple[np.ndarray, np.ndarray], ...]
    scale: np.ndarray  # float32, (n_docs,)
    #: How many of `blocks` (the first ones) are character n-grams; the rest are word-level.
    n_char_blocks: int = 0
    #: 1/sqrt(number of word-level features) per doc: the scale of `words()`.
    word_scale: np.ndarray | None = None

    def words(self) -> SparseBatch:
        """The word-level blocks alone, on their own scale."""
        scale = self.word_scale if self.word_scale is not None else self.scale
        return SparseBatch(self.n_docs, self.blocks[self.n_char_blocks :], scale, 0, scale)

    @property
    def doc(self) -> np.ndarray:
        """Every feature's text index (all blocks)."""
        if not self.blocks:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([d for d, _ in self.blocks])

    @property
    def bucket(self) -> np.ndarray:
        """Every feature's hashed column (all blocks)."""
        if not self.blocks:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([b for _, b in self.blocks])

    @property
    def value(self) -> np.ndarray:
        """Every feature's weight (all blocks)."""
        return self.scale[self.doc]


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads every input bit over every output bit."""
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


#: The target marker's hash (masked to the bucket count where it is used).
_MARK_BUCKET = _mix(np.array([_TARGET_MARK], dtype=np.uint64))[0]
_SELF_BUCKET = _mix(np.array([_SELF_MARK], dtype=np.uint64))[0]


def _codepoints(texts: Sequence[str], config: FeatureConfig) -> np.ndarray:
    """One uint64 array: ` text ` for each text, separated by NUL."""
    limit = config.max_chars
    joined = "\0".join(" " + t[:limit].replace("\0", " ") + " " for t in texts)
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if config.squeeze_repeats and cps.size > config.squeeze_repeats:
        # "loooool" and "loool" share their features: runs longer than the limit are cut.
        k = config.squeeze_repeats
        keep = np.ones(cps.size, dtype=bool)
        same = cps[k:] == cps[:-k]
        for j in range(1, k):
            same &= cps[k:] == cps[k - j : cps.size - j]
        keep[k:] = ~same
        cps = cps[keep]
    # Runs of whitespace count as one space.
    is_space = (cps == _SPACE) | (cps == 9) | (cps == 10) | (cps == 13)
    cps = np.where(is_space, np.uint64(_SPACE), cps)
    if cps.size > 1:
        keep = np.ones(cps.size, dtype=bool)
        keep[1:] = ~((cps[1:] == _SPACE) & (cps[:-1] == _SPACE))
        cps = cps[keep]
    return cps


def featurize(texts: Sequence[str], config: FeatureConfig) -> SparseBatch:
    """Hash the n-grams of every text in `texts` (already normalized: lowercase, folded)."""
    n_docs = len(texts)
    if n_docs == 0:
        return SparseBatch(0, (), np.zeros(0, dtype=np.float32))
    cps = _codepoints(texts, config)
    size = cps.size
    is_sep = cps == _SEP
    doc_of = np.cumsum(is_sep)  # text index of every position
    seps_before = np.concatenate(([0], doc_of))  # separators in cps[:i]
    mask = np.uint64((1 << config.buckets_log2) - 1)

    docs: list[np.ndarray] = []
    buckets: list[np.ndarray] = []
    h = np.zeros(size, dtype=np.uint64)
    not_space = cps != _SPACE
    # masked_before[i]: characters of embedded words in cps[:i] (None: nothing is masked).
    tokens = _tokens(cps)
    masked_before = _masked_before(cps, tokens) if config.mask_embedded else None
    for n in range(1, config.char_max + 1):
        if n > size:
            break
        count = size - n + 1
        # h[i] covers cps[i : i + n]; extended by one character per order.
        h = h[:count] + cps[n - 1 : n - 1 + count] * _POWERS[n - 1]
        if n < config.char_min:
            continue
        valid = seps_before[n : n + count] == seps_before[:count]
        if n == 1:
            valid &= not_space
        if masked_before is not None:
            valid &= masked_before[n : n + count] == masked_before[:count]
        docs.append(doc_of[:count][valid])
        buckets.append(_mix(h[valid] ^ _ORDER_SEEDS[n]) & mask)

    n_char = sum(1 for d in docs if d.size)
    word_doc, word_bucket = _words(cps, tokens, doc_of, n_docs, config, mask)
    docs.extend(word_doc)
    buckets.extend(word_bucket)

    per_doc = np.zeros(n_docs, dtype=np.float32)
    per_doc_words = np.zeros(n_docs, dtype=np.float32)
    for index, block_doc in enumerate(docs):
        counts = np.bincount(block_doc, minlength=n_docs)
        per_doc += counts
        if index >= len(docs) - len(word_doc):
            per_doc_words += counts
    scale = (1.0 / np.sqrt(np.maximum(per_doc, 1.0))).astype(np.float32)
    word_scale = (1.0 / np.sqrt(np.maximum(per_doc_words, 1.0))).astype(np.float32)
    blocks = tuple(
        (d.astype(np.intp), b.astype(np.intp)) for d, b in zip(docs, buckets, strict=True) if d.size
    )
    return SparseBatch(n_docs, blocks, scale, n_char, word_scale)


#: Ordinary words with a term inside them (see the module docstring).
EMBEDDED_WORDS_FILE = Path(__file__).with_name("data") / "embedded_words.txt"


@cache
def embedded_words() -> tuple[tuple[str, ...], str]:
    """The embedded-words list and the sha256 of its file."""
    raw = EMBEDDED_WORDS_FILE.read_bytes()
    lines = raw.decode("utf-8").splitlines()
    words = tuple(w.strip() for w in lines if w.strip() and not w.startswith("#"))
    return words, hashlib.sha256(raw).hexdigest()


@cache
def _embedded_hashes() -> np.ndarray:
    return np.array(sorted({word_hash(w) for w in embedded_words()[0]}), dtype=np.uint64)


def _member(values: np.ndarray, table: np.ndarray) -> np.ndarray:
    """`np.isin(values, table)` for a sorted `table`: a binary search, without the sorts that
    make `np.isin` cost tens of microseconds on a chat message's few words."""
    if table.size == 0 or values.size == 0:
        return np.zeros(values.shape, dtype=bool)
    at = np.minimum(np.searchsorted(table, values), table.size - 1)
    return table[at] == values


def _masked_before(
    cps: np.ndarray, tokens: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray | None:
    """Per position i, how many characters of embedded words lie in cps[:i] (size + 1); None
    when the batch holds no embedded word."""
    starts, ends, token_hash = tokens
    hit = _member(token_hash, _embedded_hashes())
    if not hit.any():
        return None
    inside = np.zeros(cps.size + 1, dtype=np.int64)
    inside[starts[hit]] += 1  # words are apart: no start is another word's end
    inside[ends[hit]] -= 1
    masked = np.cumsum(inside[:-1])
    return np.concatenate(([0], np.cumsum(masked)))


def _tokens(cps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Words (maximal runs of letters, digits and apostrophes): start and end positions and
    each one's polynomial hash."""
    alnum = _alnum(cps)
    prev = np.concatenate(([False], alnum[:-1]))
    starts = np.flatnonzero(alnum & ~prev)
    if starts.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.uint64)
    nxt = np.concatenate((alnum[1:], [False]))
    ends = np.flatnonzero(alnum & ~nxt) + 1
    return starts, ends, _token_hashes(cps, alnum, starts)


def _alnum(cps: np.ndarray) -> np.ndarray:
    return (
        ((cps >= ord("a")) & (cps <= ord("z")))
        | ((cps >= ord("0")) & (cps <= ord("9")))
        | (cps == ord("'"))
        | (cps > 127)
    )


def _token_hashes(cps: np.ndarray, alnum: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Polynomial hash of each token: sum of c * BASE**offset, offsets capped so powers stay
    tabled."""
    prev = np.concatenate(([False], alnum[:-1]))
    token_of = np.cumsum(alnum & ~prev) - 1  # token index of every position (valid where alnum)
    positions = np.flatnonzero(alnum)
    tokens = token_of[positions]
    offset = np.minimum(positions - starts[tokens], 63)
    terms = cps[positions] * _POWERS[offset]
    return np.add.reduceat(terms, np.flatnonzero(offset == 0)) if terms.size else terms


def word_hash(word: str) -> int:
    """The hash `featurize` gives a word token (before mixing): for cue lists."""
    total = 0
    for offset, char in enumerate(word):
        total += ord(char) * int(_POWERS[min(offset, 63)])
    return total % (1 << 64)


#: Words that address the reader: a text with one of them (or an @mention) has a target.
TARGET_WORDS = (
    "you", "u", "ur", "your", "yours", "youre", "you're", "ya", "yourself", "urself", "ye",
    "yall", "y'all", "thee", "thou",
)  # fmt: skip
_TARGET_HASHES = np.array(sorted({word_hash(w) for w in TARGET_WORDS}), dtype=np.uint64)
#: Words for the speaker: a text with one of them and no other person is about the speaker.
SELF_WORDS = ("i", "im", "i'm", "ive", "i've", "myself")
#: Longer texts get no self features.
SELF_MAX_WORDS = 12
#: Words for someone other than the speaker or the reader.
THIRD_PERSON_WORDS = ("he", "him", "his", "she", "her", "hers", "they", "them", "their", "theirs")
_SELF_HASHES = np.array(sorted({word_hash(w) for w in SELF_WORDS}), dtype=np.uint64)
#: Two-word phrases that name the speaker where no first-person word does ("idiot move by me",
#: "my bad, dumb play"): "me" and "my" alone do not ("blow me", "my team is trash").
SELF_PHRASES = (
    ("by", "me"), ("of", "me"), ("on", "me"), ("my", "bad"), ("my", "fault"), ("my", "mistake"),
    ("my", "b"),
)  # fmt: skip
_OTHER_HASHES = np.array(
    sorted({word_hash(w) for w in (*TARGET_WORDS, *THIRD_PERSON_WORDS)}), dtype=np.uint64
)


_SELF_PAIRS = np.array(
    sorted({(word_hash(a) * int(_BASE) + word_hash(b)) % (1 << 64) for a, b in SELF_PHRASES}),
    dtype=np.uint64,
)


def _words(
    cps: np.ndarray,
    tokens: tuple[np.ndarray, np.ndarray, np.ndarray],
    doc_of: np.ndarray,
    n_docs: int,
    config: FeatureConfig,
    mask: np.uint64,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Word unigrams (and bigrams): maximal runs of letters and digits; then the target and
    self features when configured."""
    starts, _, token_hash = tokens
    if config.word_ngrams < 1 or starts.size == 0:
        return [], []
    token_doc = doc_of[starts]
    out_doc = [token_doc]
    out_bucket = [_mix(token_hash ^ _WORD_SEED) & mask]
    if config.word_ngrams >= 2 and token_hash.size > 1:
        same_doc = token_doc[1:] == token_doc[:-1]
        pair = token_hash[:-1] * _BASE + _mix(token_hash[1:])
        out_doc.append(token_doc[1:][same_doc])
        out_bucket.append(_mix(pair[same_doc] ^ _BIGRAM_SEED) & mask)
    if config.target_cross:
        targeted = np.zeros(n_docs, dtype=bool)
        targeted[token_doc[_member(token_hash, _TARGET_HASHES)]] = True
        targeted[doc_of[cps == _AT]] = True
        marked = np.flatnonzero(targeted)
        if marked.size:
            crossed = targeted[token_doc]
            out_doc.append(marked)
            out_bucket.append(np.full(marked.size, _MARK_BUCKET & mask, dtype=np.uint64))
            out_doc.append(token_doc[crossed])
            out_bucket.append(_mix(token_hash[crossed] ^ _TARGET_SEED) & mask)
    if config.self_cross:
        speaker = np.zeros(n_docs, dtype=bool)
        speaker[token_doc[_member(token_hash, _SELF_HASHES)]] = True
        if config.self_cross >= 2 and token_hash.size > 1:
            follows = token_doc[1:] == token_doc[:-1]
            pair = token_hash[:-1] * _BASE + token_hash[1:]
            speaker[token_doc[:-1][follows & _member(pair, _SELF_PAIRS)]] = True
        speaker[token_doc[_member(token_hash, _OTHER_HASHES)]] = False
        speaker[doc_of[cps == _AT]] = False
        speaker &= np.bincount(token_doc, minlength=n_docs) <= SELF_MAX_WORDS
        marked = np.flatnonzero(speaker)
        if marked.size:
            crossed = speaker[token_doc]
            out_doc.append(marked)
            out_bucket.append(np.full(marked.size, _SELF_BUCKET & mask, dtype=np.uint64))
            out_doc.append(token_doc[crossed])
            out_bucket.append(_mix(token_hash[crossed] ^ _SELF_SEED) & mask)
    return out_doc, out_bucket
