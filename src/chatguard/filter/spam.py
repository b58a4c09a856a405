"""Spam and flood detection: per-user message rate, repeated and near-duplicate messages (per
user, and across a channel for raids), excessive caps, character and emote floods, link spam
outside a domain allowlist, and mention spam.

The per-message checks need no state. Rate, repeats and raids count messages in sliding windows
kept by a `SpamState` (in-process or Redis). Near-duplicates share a fingerprint: the message's
distinct words after normalization (case, homoglyphs, leetspeak, repeated letters, vowels,
digits and word order do not matter), so "FOLLOW my channel 123" and "follow my chaaannel 456"
count as copies.

When the input's context says `stateless` (the service's STATELESS key), the windows are read
but not written: a one-off check does not count against the user.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress

from chatguard.domain import Role, Span
from chatguard.filter.detection import NOTHING, Detection, FilterInput, scores_from_spans
from chatguard.filter.speedups import native
from chatguard.filter.state import InMemorySpamState, Observation, SpamState
from chatguard.taxonomy import Category

#: The context key of `chatguard.service.STATELESS` (not imported: the filter must not pull in
#: the service and its storage).
STATELESS_KEY = "stateless"

DEFAULT_LINK_ALLOWLIST = frozenset(
    {"twitch.tv", "youtube.com", "youtu.be", "twitter.com", "x.com", "imgur.com", "wikipedia.org"}
)
URL_SHORTENERS = frozenset(
    {"bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "cutt.ly", "rebrand.ly",
     "shorturl.at", "tiny.cc", "rb.gy", "s.id", "v.gd", "bl.ink", "t.ly"}
)  # fmt: skip

_TLDS = (
    "com|net|org|io|gg|tv|me|co|ly|xyz|ru|info|biz|app|dev|link|click|top|live|site|online|"
    "store|shop|us|uk|de|fr|cc|to|be|at|su|ws|vip|win|bid|loan|pro|club|fun|icu|cn|tk|ml|ga|cf"
)
_URL = re.compile(
    r"(?:https?://|www\.)(?P<host>[a-z0-9-]+(?:\.[a-z0-9-]+)+)[^\s]*"
    r"|(?<![\w@.-])(?P<bare>(?:[a-z0-9-]+\.)+(?:" + _TLDS + r"))\b(?:/[^\s]*)?",
    re.IGNORECASE,
)
_MENTION = re.compile(r"(?<!\w)@\w+")
_DIGITS_TO_SPACE = bytes(32 if 48 <= c <= 57 else c for c in range(256))
_DIGITS = re.compile(r"\d")
_UPPER_BYTES = bytes(range(65, 91))
_LOWER_BYTES = bytes(range(97, 123))
_CHECKED_MAX = 65536
_ONE_LESS_THAN = (1).__lt__
#: A link needs a scheme, "www." or a dot between letters ("site.xyz"); most chat has none.
#: (Written to start with a literal, so the regex engine skips ahead to each '.' or ':'.)
_MAY_HOLD_LINK = re.compile(r"\.(?<=[a-z0-9-]\.)[a-z]|://", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class SpamConfig:
    """The spam detector's knobs. Windows are in seconds, on the time the server received
    each message (`Message.received_at`; the sender's `timestamp` is never trusted)."""

    rate_window_s: float = 10.0
    rate_max: int = 8  # messages per window a user may send before it counts as a flood
    repeat_window_s: float = 30.0
    repeat_max: int = 2  # copies of one text a user may send per window
    raid_window_s: float = 10.0
    raid_min_users: int = 10  # distinct users sending one text within the window
    raid_min_chars: int = 12  # shorter texts ("lul", "gg", "w") are chat, never a raid
    caps_min_letters: int = 12
    caps_ratio: float = 0.8
    caps_score: float = 0.25  # below the default clearing threshold: reported, not escalated
    char_run: int = 16  # one character repeated this often is a flood
    token_repeat: int = 10  # one word or emote repeated this often is a flood
    mention_max: int = 4
    link_window_s: float = 60.0
    link_max: int = 2  # links a user may post per window
    link_allowlist: frozenset[str] = field(default_factory=lambda: DEFAULT_LINK_ALLOWLIST)
    link_score: float = 0.5
    shortener_score: float = 0.75
    #: Roles the spam rules leave alone (the channel's own bots run as moderators).
    exempt_roles: frozenset[Role] = frozenset({Role.BROADCASTER, Role.MODERATOR})


def fingerprint(item: FilterInput) -> str:
    """The near-duplicate key of a message: its distinct normalized words, digits dropped."""
    words = _words_key(item.skeleton.collapsed)
    return item.normalized.folded.strip() if words is None else words


def words_key_python(collapsed: str) -> str | None:
    """The distinct words of a collapsed view, digits dropped and sorted; None if it has none.
    (The reference form of `_words_key`.)"""
    if collapsed.isascii():
        collapsed = collapsed.encode("ascii").translate(_DIGITS_TO_SPACE).decode("ascii")
    else:
        collapsed = _DIGITS.sub(" ", collapsed)
    words = collapsed.split()
    if not words:
        return None
    return " ".join(sorted(set(words)))


_DISTINCT_WORDS = native.distinct_words if native is not None else None
#: What splits a collapsed view into the words of its fingerprint: `str.split()`'s white space
#: and the digits, as the byte table of the `distinct_words` kernel.
_WORD_BREAKS = bytes(c < 128 and (chr(c).isspace() or chr(c).isdigit()) for c in range(256))


def _words_key(collapsed: str) -> str | None:
    """`words_key_python`, through the compiled `distinct_words` kernel (ASCII text) when that
    is built."""
    if _DISTINCT_WORDS is not None:
        key = _DISTINCT_WORDS(collapsed, _WORD_BREAKS)
        if key is not NotImplemented:
            return key  # type: ignore[no-any-return]
    return words_key_python(collapsed)


def token_counts_python(text: str) -> tuple[int, int, int]:
    """The tokens of `text.split()`, the distinct ones, and the copies of the most frequent.
    (The reference form of `_token_counts`.)"""
    tokens = text.split()
    if not tokens:
        return 0, 0, 0
    counts = Counter(tokens)
    return len(tokens), len(counts), max(counts.values())


_NATIVE_TOKEN_COUNTS = native.token_counts if native is not None else None


def _token_counts(text: str) -> tuple[int, int, int]:
    """`token_counts_python`, through its compiled form (ASCII text) when that is built."""
    if _NATIVE_TOKEN_COUNTS is not None:
        counts = _NATIVE_TOKEN_COUNTS(text)
        if counts is not NotImplemented:
            return counts  # type: ignore[no-any-return]
    return token_counts_python(text)


#: An emote flood: at most this share of a message's words are distinct, and the most
#: frequent one makes up at least this share.
EMOTE_DISTINCT_MAX = 0.4
EMOTE_TOP_MIN = 0.6

#: The per-text checks, as the bits of `SpamDetector.screen`: which of them find something in
#: a text.
CAPS, FLOOD, EMOTES, LINK, MENTIONS = 1, 2, 4, 8, 16

_NO_SPANS: tuple[Span, ...] = ()

#: The character classes the screen counts (the `char_profile` kernel's table): capitals,
#: small letters, spaces, '@', '.', other white space; everything else is class 0.
_OTHER, _UPPER, _LOWER, _SPACE, _AT, _DOT, _BLANK = range(7)


def _profile_class(code: int) -> int:
    char = chr(code)
    if code >= 128:
        return _OTHER
    if "A" <= char <= "Z":
        return _UPPER
    if "a" <= char <= "z":
        return _LOWER
    if char == " ":
        return _SPACE
    if char == "@":
        return _AT
    if char == ".":
        return _DOT
    return _BLANK if char.isspace() else _OTHER


_PROFILE_CLASSES = bytes(_profile_class(code) for code in range(256))
#: A character flood is a run of one character that is not white space (`\S` in `_char_run`).
_RUN_CLASSES = sum(1 << kind for kind in range(7) if kind not in (_SPACE, _BLANK))
_CHAR_PROFILE = native.char_profile if native is not None else None


def _host_allowed(host: str, allowlist: frozenset[str]) -> bool:
    host = host.lower().removeprefix("www.")
    return host in allowlist or any(host.endswith("." + domain) for domain in allowlist)


#: What `_plan` returns: per message its per-text findings, the batch's window observations
#: (plain tuples in `Observation` order) and, per observation, the index of its message.
_Plan = tuple[list[tuple[Span, ...]], list[tuple[str, str, float, float, bool]], list[int]]


class SpamDetector:
    """Scores spam; see the module docstring. `state` defaults to an in-process one."""

    name = "spam"

    def __init__(self, *, state: SpamState | None = None, config: SpamConfig | None = None) -> None:
        self.state: SpamState = state if state is not None else InMemorySpamState()
        self.config = config or SpamConfig()
        self._char_run = re.compile(rf"(\S)\1{{{self.config.char_run - 1},}}")
        #: per text (chat repeats itself): the per-message checks' spans (immutable) and link
        #: count, the fingerprint and whether the text is long enough for a raid
        self._checked: dict[str, tuple[tuple[Span, ...], int, str, bool]] = {}

    @property
    def synchronous(self) -> bool:
        """Can this detector answer without awaiting I/O (its state is in-process)?"""
        return isinstance(self.state, InMemorySpamState)

    async def detect_many(self, items: Sequence[FilterInput]) -> list[Detection]:
        spans, planned, owners = self._plan(items)
        observations = [Observation(*o) for o in planned]
        counts = await self.state.observe(observations) if observations else []
        return self._finish(items, spans, observations, owners, counts)

    def detect_many_now(self, items: Sequence[FilterInput]) -> list[Detection]:
        """`detect_many` without awaiting; only for the in-process state."""
        if not isinstance(self.state, InMemorySpamState):
            raise TypeError("detect_many_now needs the in-process state; await detect_many")
        spans, observations, owners = self._plan(items)
        # Plain tuples: the in-process state only unpacks them (no named tuple to make).
        counts = self.state.observe_now(observations) if observations else []
        return self._finish(items, spans, observations, owners, counts)

    def detect(self, item: FilterInput) -> Detection:
        return self.detect_many_now([item])[0]

    # -- per message -------------------------------------------------------------------------

    def _plan(self, items: Sequence[FilterInput]) -> _Plan:
        """Each message's stateless findings, and the window observations of the batch (as
        plain tuples in `Observation` order) with the message each belongs to."""
        texts = [item.message.text for item in items]
        screens = self._screens(texts, [item.skeleton.collapsed for item in items])
        return self._plan_screened(items, screens)

    def _plan_screened(
        self, items: Sequence[FilterInput], screens: list[tuple[int, str | None] | None]
    ) -> _Plan:
        """`_plan` once the texts are screened."""
        config = self.config
        exempt = config.exempt_roles
        rate_s, repeat_s = config.rate_window_s, config.repeat_window_s
        raid_s, link_s = config.raid_window_s, config.link_window_s
        raid_min = config.raid_min_chars
        checked = self._checked
        spans_of: list[tuple[Span, ...]] = []
        observations: list[tuple[str, str, float, float, bool]] = []
        owners: list[int] = []  # per observation: the message's index
        observe, own = observations.append, owners.append
        for index, item in enumerate(items):
            message = item.message
            roles = message.roles
            if roles and not roles.isdisjoint(exempt):
                spans_of.append(_NO_SPANS)
                continue
            text = message.text
            seen = checked.get(text)
            if seen is None:  # a new text (the same text again: its checks say the same)
                screened = screens[index]
                if screened is not None and not screened[0] and screened[1] is not None:
                    # Most chat: no check finds anything, and the text has words.
                    words = screened[1]
                    seen = (_NO_SPANS, 0, words, len(words) >= raid_min)
                else:
                    spans, links, words = self._check(item, screened)
                    # The fingerprint is the window key as it is (a shared store hashes keys).
                    seen = (spans, links, words, len(words) >= raid_min)
                if len(checked) >= _CHECKED_MAX:
                    checked.clear()
                checked[text] = seen
            found, links, print_, raid = seen
            spans_of.append(found)
            context = item.context
            record = not context.get(STATELESS_KEY, False) if context else True
            channel, user, at, member = (
                message.channel_id,
                message.user_id,
                message.received_at,
                message.id,
            )
            observe((f"rate:{channel}:{user}", member, at, rate_s, record))
            observe((f"repeat:{channel}:{user}:{print_}", member, at, repeat_s, record))
            own(index)
            own(index)
            if raid:
                observe((f"raid:{channel}:{print_}", user, at, raid_s, record))
                own(index)
            if links:
                observe((f"link:{channel}:{user}", member, at, link_s, record))
                own(index)
        return spans_of, observations, owners

    def _screens(
        self, texts: list[str], collapsed: list[str]
    ) -> list[tuple[int, str | None] | None]:
        """`screen` of each ASCII text, from the compiled `char_profile` kernel's counts when
        it is built; None where `_check` must run every check itself."""
        if _CHAR_PROFILE is None:
            return [None] * len(texts)
        config = self.config
        caps_min, caps_ratio = config.caps_min_letters, config.caps_ratio
        char_run, token_repeat = config.char_run, config.token_repeat
        mention_max = config.mention_max
        screens: list[tuple[int, str | None] | None] = []
        keep = screens.append
        for text, view, profile in zip(
            texts, collapsed, _CHAR_PROFILE(texts, _PROFILE_CLASSES, _RUN_CLASSES), strict=True
        ):
            if profile is None or not view.isascii():
                keep(None)
                continue
            _, upper, lower, spaces, ats, dots, _, longest = profile
            bits = 0
            letters = upper + lower
            if upper >= caps_min and len(text) >= caps_min and letters:
                bits |= CAPS if upper / letters >= caps_ratio else 0
            if longest >= char_run:
                bits |= FLOOD
            if spaces + 1 >= token_repeat and self._emote_score(text) is not None:
                bits |= EMOTES
            if dots and _MAY_HOLD_LINK.search(text):
                bits |= LINK
            if ats > mention_max:
                bits |= MENTIONS
            keep((bits, _words_key(view)))
        return screens

    def screen(self, text: str, collapsed: str) -> tuple[int, str | None]:
        """Which per-text checks find something in `text` (the bits `CAPS`, `FLOOD`, `EMOTES`;
        `LINK` when it may hold a link, `MENTIONS` when it has more '@' than mentions are
        allowed) and the word key of its collapsed view. (The reference form of `_screens`.)"""
        config = self.config
        bits = 0
        for bit, check in ((CAPS, self._caps), (FLOOD, self._floods), (EMOTES, self._emotes)):
            found: list[Span] = []
            check(text, found)
            bits |= bit if found else 0
        if "." in text and _MAY_HOLD_LINK.search(text):
            bits |= LINK
        if text.count("@") > config.mention_max:
            bits |= MENTIONS
        return bits, words_key_python(collapsed)

    def _check(
        self, item: FilterInput, screened: tuple[int, str | None] | None
    ) -> tuple[tuple[Span, ...], int, str]:
        """A new text's per-text findings, link count and fingerprint. With its `screen`, only
        the checks it names run; without, each check runs behind a cheap gate."""
        config = self.config
        text = item.message.text
        skeleton = item.skeleton
        spans: list[Span] = []
        links = 0
        if screened is None:
            if len(text) >= config.caps_min_letters:
                self._caps(text, spans)
            # A run of `char_run` characters shortens the collapsed view by `char_run - 1`.
            if len(skeleton.spaced) + 3 - len(skeleton.collapsed) >= config.char_run:
                self._floods(text, spans)
            if text.count(" ") + 1 >= config.token_repeat:
                self._emotes(text, spans)
            links = self._links(text, spans)
            if text.count("@") > config.mention_max:
                self._mentions(text, spans)
            words = _words_key(skeleton.collapsed)
        else:
            bits, words = screened
            if bits & CAPS:  # the screen has counted the capitals already
                spans.append(self._caps_span(text))
            if bits & FLOOD:
                self._floods(text, spans)
            if bits & EMOTES:
                self._emotes(text, spans)
            if bits & LINK:
                links = self._links(text, spans)
            if bits & MENTIONS:
                self._mentions(text, spans)
        if words is None:  # no words (emoji, digits): the text itself
            words = item.normalized.folded.strip()
        return tuple(spans), links, words

    def _caps(self, text: str, spans: list[Span]) -> None:
        config = self.config
        if len(text) < config.caps_min_letters:
            return
        raw = text.encode("utf-8", "surrogatepass")
        upper = len(raw) - len(raw.translate(None, _UPPER_BYTES))
        if upper < config.caps_min_letters:
            return
        letters = upper + len(raw) - len(raw.translate(None, _LOWER_BYTES))
        if upper / letters >= config.caps_ratio:
            spans.append(self._caps_span(text))

    def _caps_span(self, text: str) -> Span:
        return Span(0, len(text), Category.SPAM, "caps", self.config.caps_score)

    def _floods(self, text: str, spans: list[Span]) -> None:
        """A long run of one character."""
        config = self.config
        run = self._char_run.search(text)
        if run:
            score = 0.8 if run.end() - run.start() >= 4 * config.char_run else 0.5
            spans.append(Span(run.start(), run.end(), Category.SPAM, "char_flood", score))

    def _emotes(self, text: str, spans: list[Span]) -> None:
        """One word or emote repeated: only for messages of `token_repeat` words or more."""
        if text.count(" ") + 1 < self.config.token_repeat:
            return
        score = self._emote_score(text)
        if score is not None:
            spans.append(Span(0, len(text), Category.SPAM, "emote_flood", score))

    def _emote_score(self, text: str) -> float | None:
        """The score of an emote flood in `text`, or None if it is none."""
        config = self.config
        tokens, distinct, count = _token_counts(text)
        if tokens < config.token_repeat or distinct > EMOTE_DISTINCT_MAX * tokens:
            return None  # varied words: not a flood
        if count >= config.token_repeat and count >= EMOTE_TOP_MIN * tokens:
            return 0.8 if count >= 4 * config.token_repeat else 0.5
        return None

    def _links(self, text: str, spans: list[Span]) -> int:
        config = self.config
        if "." not in text or not _MAY_HOLD_LINK.search(text):
            return 0
        found = 0
        for match in _URL.finditer(text):
            host = (match.group("host") or match.group("bare") or "").lower()
            if _host_allowed(host, config.link_allowlist):
                continue
            found += 1
            short = host.removeprefix("www.") in URL_SHORTENERS
            label = "shortener" if short else "link"
            score = config.shortener_score if short else config.link_score
            spans.append(Span(match.start(), match.end(), Category.SPAM, label, score))
        if found >= 3:
            spans.append(Span(0, len(text), Category.SPAM, "many_links", 0.9))
        return found

    def _mentions(self, text: str, spans: list[Span]) -> None:
        mentions = list(_MENTION.finditer(text))
        limit = self.config.mention_max
        if len(mentions) > limit:
            score = 0.9 if len(mentions) >= 2 * limit else 0.6
            spans.append(Span(mentions[0].start(), mentions[-1].end(), Category.SPAM,
                              "mention_spam", score))  # fmt: skip

    # -- with the windows' counts ------------------------------------------------------------

    def _finish(
        self,
        items: Sequence[FilterInput],
        spans_of: list[tuple[Span, ...]],
        observations: Sequence[tuple[str, str, float, float, bool]],
        owners: list[int],
        counts: list[int],
    ) -> list[Detection]:
        config = self.config
        # The count each window may reach before it means anything (most never do).
        allowed = {
            "rate": config.rate_max,
            "repeat": config.repeat_max,
            "raid": config.raid_min_users - 1,
            "link": config.link_max,
        }
        # Most counts are 1 (a message alone in its window): only the others are looked at,
        # picked out at C level.
        for position in compress(range(len(counts)), map(_ONE_LESS_THAN, counts)):
            key = observations[position][0]
            kind = key[: key.index(":")]
            count = counts[position]
            if count > allowed[kind]:
                owner = owners[position]
                score = self._window_score(kind, count)
                whole = len(items[owner].message.text)
                spans_of[owner] = (*spans_of[owner], Span(0, whole, Category.SPAM, kind, score))
        detections = [NOTHING] * len(spans_of)
        for index in compress(range(len(spans_of)), spans_of):  # the messages with spans
            spans = spans_of[index]
            reasons = tuple(dict.fromkeys(f"spam:{s.label}" for s in spans))
            detections[index] = Detection(scores_from_spans(spans), spans, reasons)
        return detections

    def _window_score(self, kind: str, count: int) -> float:
        config = self.config
        if kind == "rate":
            excess = (count - config.rate_max) / config.rate_max
            return min(0.95, 0.6 + 0.4 * excess)
        if kind == "repeat":
            return 0.95 if count >= config.repeat_max + 3 else 0.7
        return 0.95 if kind == "raid" else 0.9
