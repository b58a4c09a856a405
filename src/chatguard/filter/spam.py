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

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from chatguard.domain import Role, Span
from chatguard.filter.detection import NOTHING, Detection, FilterInput, scores_from_spans
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
#: A link needs a scheme, "www." or a dot between letters ("site.xyz"); most chat has none.
_MAY_HOLD_LINK = re.compile(r"[a-z0-9-]\.[a-z]|://", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class SpamConfig:
    """The spam detector's knobs. Windows are in seconds, on the messages' timestamps."""

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


@dataclass(slots=True)
class _Plan:
    item: FilterInput
    spans: list[Span]
    observations: list[Observation]
    kinds: list[str]  # what each observation measures: rate, repeat, raid or link
    whole: tuple[int, int]


def fingerprint(item: FilterInput) -> str:
    """The near-duplicate key of a message: its distinct normalized words, digits dropped."""
    collapsed = item.skeleton.collapsed
    if collapsed.isascii():
        collapsed = collapsed.encode("ascii").translate(_DIGITS_TO_SPACE).decode("ascii")
    else:
        collapsed = _DIGITS.sub(" ", collapsed)
    words = collapsed.split()
    if not words:
        return item.normalized.folded.strip()
    return " ".join(sorted(set(words)))


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def _host_allowed(host: str, allowlist: frozenset[str]) -> bool:
    host = host.lower().removeprefix("www.")
    return host in allowlist or any(host.endswith("." + domain) for domain in allowlist)


class SpamDetector:
    """Scores spam; see the module docstring. `state` defaults to an in-process one."""

    name = "spam"

    def __init__(self, *, state: SpamState | None = None, config: SpamConfig | None = None) -> None:
        self.state: SpamState = state if state is not None else InMemorySpamState()
        self.config = config or SpamConfig()
        self._char_run = re.compile(rf"(\S)\1{{{self.config.char_run - 1},}}")

    @property
    def synchronous(self) -> bool:
        """Can this detector answer without awaiting I/O (its state is in-process)?"""
        return isinstance(self.state, InMemorySpamState)

    async def detect_many(self, items: Sequence[FilterInput]) -> list[Detection]:
        plans = [self._plan(item) for item in items]
        observations = [o for plan in plans for o in plan.observations]
        counts = await self.state.observe(observations) if observations else []
        return self._finish(plans, counts)

    def detect_many_now(self, items: Sequence[FilterInput]) -> list[Detection]:
        """`detect_many` without awaiting; only for the in-process state."""
        if not isinstance(self.state, InMemorySpamState):
            raise TypeError("detect_many_now needs the in-process state; await detect_many")
        plans = [self._plan(item) for item in items]
        observations = [o for plan in plans for o in plan.observations]
        counts = self.state.observe_now(observations) if observations else []
        return self._finish(plans, counts)

    def detect(self, item: FilterInput) -> Detection:
        return self.detect_many_now([item])[0]

    # -- per message -------------------------------------------------------------------------

    def _plan(self, item: FilterInput) -> _Plan:
        config = self.config
        text = item.message.text
        whole = (0, len(text))
        spans: list[Span] = []
        roles = item.message.roles
        if roles and not roles.isdisjoint(config.exempt_roles):
            return _Plan(item, spans, [], [], whole)
        self._caps(text, spans)
        self._floods(item, spans)
        links = self._links(text, spans)
        if "@" in text:
            self._mentions(text, spans)
        record = not item.context.get(STATELESS_KEY, False)
        message, channel, user = item.message, item.message.channel_id, item.message.user_id
        at = message.timestamp
        words = fingerprint(item)
        # Short fingerprints are their own key; long ones are hashed to keep keys small.
        print_ = words if len(words) <= 48 else _digest(words)
        observations = [
            Observation(f"rate:{channel}:{user}", message.id, at, config.rate_window_s, record),
            Observation(
                f"repeat:{channel}:{user}:{print_}", message.id, at, config.repeat_window_s, record
            ),
        ]
        kinds = ["rate", "repeat"]
        if len(words) >= config.raid_min_chars:
            observations.append(
                Observation(f"raid:{channel}:{print_}", user, at, config.raid_window_s, record)
            )
            kinds.append("raid")
        if links:
            observations.append(
                Observation(f"link:{channel}:{user}", message.id, at, config.link_window_s, record)
            )
            kinds.append("link")
        return _Plan(item, spans, observations, kinds, whole)

    def _caps(self, text: str, spans: list[Span]) -> None:
        config = self.config
        if len(text) < config.caps_min_letters:
            return
        raw = text.encode("utf-8")
        upper = len(raw) - len(raw.translate(None, _UPPER_BYTES))
        if upper < config.caps_min_letters:
            return
        letters = upper + len(raw) - len(raw.translate(None, _LOWER_BYTES))
        if upper / letters >= config.caps_ratio:
            spans.append(Span(0, len(text), Category.SPAM, "caps", config.caps_score))

    def _floods(self, item: FilterInput, spans: list[Span]) -> None:
        config = self.config
        text = item.message.text
        skeleton = item.skeleton
        # A long run of one character shortens the collapsed view by at least its length; a
        # message that lost less cannot hold one (cheaper than the backreference regex).
        lost = len(skeleton.spaced) + 2 - len(skeleton.collapsed)
        run = self._char_run.search(text) if lost >= config.char_run - 1 else None
        if run:
            score = 0.8 if run.end() - run.start() >= 4 * config.char_run else 0.5
            spans.append(Span(run.start(), run.end(), Category.SPAM, "char_flood", score))
        if text.count(" ") + 1 < config.token_repeat:
            return
        tokens = text.split()
        if len(tokens) < config.token_repeat or len(set(tokens)) > 0.4 * len(tokens):
            return  # varied words: not a flood (a set is cheaper than counting each word)
        _, count = Counter(tokens).most_common(1)[0]
        if count >= config.token_repeat and count >= 0.6 * len(tokens):
            score = 0.8 if count >= 4 * config.token_repeat else 0.5
            spans.append(Span(0, len(text), Category.SPAM, "emote_flood", score))

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

    def _finish(self, plans: list[_Plan], counts: list[int]) -> list[Detection]:
        config = self.config
        # The count each window may reach before it means anything (most never do).
        allowed = {
            "rate": config.rate_max,
            "repeat": config.repeat_max,
            "raid": config.raid_min_users - 1,
            "link": config.link_max,
        }
        detections = []
        position = 0
        for plan in plans:
            spans = plan.spans
            for kind in plan.kinds:
                count = counts[position]
                position += 1
                if count > allowed[kind]:
                    score = self._window_score(kind, count)
                    spans.append(Span(*plan.whole, Category.SPAM, kind, score))
            if not spans:
                detections.append(NOTHING)
                continue
            reasons = tuple(dict.fromkeys(f"spam:{s.label}" for s in spans))
            detections.append(Detection(scores_from_spans(spans), tuple(spans), reasons))
        return detections

    def _window_score(self, kind: str, count: int) -> float:
        config = self.config
        if kind == "rate":
            excess = (count - config.rate_max) / config.rate_max
            return min(0.95, 0.6 + 0.4 * excess)
        if kind == "repeat":
            return 0.95 if count >= config.repeat_max + 3 else 0.7
        return 0.95 if kind == "raid" else 0.9
