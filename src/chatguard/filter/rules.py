"""The rule engine: the default term list plus each channel's blocked terms, permitted terms and
regex rules, compiled once per channel and cached.

Channel policy feeds it through `set_channel_terms`; the rules stage reads
`RuleEngine.for_channel(message.channel_id)`. A permitted term wins over a blocked one: a
blocked match that lies inside a permitted match is dropped, so a channel can allow "hell" or
"damn" while the default list stays as it is. The default list has permitted phrases of its
own (an insult that names the speaker: "i'm such an idiot"), which hold wherever the defaults
do.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chatguard.domain import Span
from chatguard.errors import ConfigurationError
from chatguard.filter.detection import NOTHING, Detection, FilterInput, scores_from_spans
from chatguard.filter.terms import (
    Term,
    TermHit,
    TermMatcher,
    as_terms,
    load_default_permitted,
    load_default_terms,
)
from chatguard.taxonomy import Category

#: What a channel's plain-string blocked term means: the streamer wants it gone.
CHANNEL_TERM_CATEGORY = Category.PROFANITY
CHANNEL_TERM_SEVERITY = 0.9


class InvalidRuleError(ConfigurationError):
    """A regex rule that does not compile."""


@dataclass(frozen=True, slots=True)
class RegexRule:
    """A regular expression matched on the folded text (lowercase, homoglyphs and accents
    removed), with the category and severity a match gives."""

    pattern: str
    category: Category = CHANNEL_TERM_CATEGORY
    severity: float = CHANNEL_TERM_SEVERITY
    name: str = ""

    def compile(self) -> re.Pattern[str]:
        try:
            return re.compile(self.pattern)
        except re.error as exc:
            raise InvalidRuleError(f"regex rule {self.name or self.pattern!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class ChannelTerms:
    """A channel's own rules, as policy stores them."""

    blocked: tuple[Term, ...] = ()
    permitted: tuple[str, ...] = ()
    regexes: tuple[RegexRule, ...] = ()
    use_defaults: bool = True


class ChannelRules:
    """One channel's compiled rules. Immutable once built; `scan` is thread-safe."""

    def __init__(
        self,
        *,
        default: TermMatcher | None,
        channel: ChannelTerms | None = None,
        default_permitted: Sequence[str] = (),
    ) -> None:
        channel = channel or ChannelTerms()
        self._matchers = [m for m in (default if channel.use_defaults else None,) if m]
        if channel.blocked:
            self._matchers.append(TermMatcher(channel.blocked))
        permitted = (*(default_permitted if channel.use_defaults else ()), *channel.permitted)
        self._permitted = (
            TermMatcher(Term(p, CHANNEL_TERM_CATEGORY, 0.0) for p in permitted)
            if permitted
            else None
        )
        self._regexes = [(rule, rule.compile()) for rule in channel.regexes]

    def scan_many(self, items: Sequence[FilterInput]) -> list[Detection]:
        """`scan` for a batch: one automaton pass per matcher over the batch's joined collapsed
        views finds the messages with a candidate term and the terms; only those candidates
        are confirmed (with regex rules, every message is scanned)."""
        if self._regexes:
            return [self.scan(item) for item in items]
        views = [item.skeleton for item in items]
        per_matcher = [(matcher, matcher.candidates(views)) for matcher in self._matchers]
        found = [NOTHING] * len(items)
        for index in sorted({i for _, candidates in per_matcher for i in candidates}):
            item = items[index]
            hits: list[TermHit] = []
            for matcher, candidates in per_matcher:
                if index in candidates:
                    hits.extend(matcher.confirm(item.skeleton, candidates[index]))
            found[index] = self._detection(item, hits)
        return found

    def scan(self, item: FilterInput) -> Detection:
        """Every blocked term and regex rule that matches, minus what a permitted term covers."""
        hits: list[TermHit] = []
        for matcher in self._matchers:
            hits.extend(matcher.find(item.skeleton))
        return self._detection(item, hits)

    def _detection(self, item: FilterInput, hits: list[TermHit]) -> Detection:
        if hits and self._permitted is not None:
            allowed = self._permitted.find(item.skeleton)
            hits = [h for h in hits if not _covered(h, allowed)]
        if not hits and not self._regexes:
            return NOTHING
        spans = _strongest_per_place(_term_span(item, hit) for hit in hits)
        for rule, regex in self._regexes:
            for match in regex.finditer(item.normalized.folded):
                start, end = item.normalized.original_span(match.start(), match.end())
                label = f"regex:{rule.name or 'rule'}"
                spans.append(Span(start, end, rule.category, label, rule.severity))
        if not spans:
            return NOTHING
        reasons = tuple(dict.fromkeys(f"{s.label} ({s.category.value})" for s in spans))
        return Detection(scores_from_spans(spans), tuple(spans), reasons)


def _strongest_per_place(spans: Iterable[Span]) -> list[Span]:
    """One span per place and category ("fucking" matches both "fuck*" and "*fucking")."""
    best: dict[tuple[int, int, Category], Span] = {}
    for span in spans:
        key = (span.start, span.end, span.category)
        if key not in best or span.score > best[key].score:
            best[key] = span
    return list(best.values())


def _covered(hit: TermHit, allowed: list[TermHit]) -> bool:
    return any(a.start <= hit.start and hit.end <= a.end for a in allowed)


def _term_span(item: FilterInput, hit: TermHit) -> Span:
    start, end = item.skeleton.original_span(hit.start, hit.end)
    return Span(start, end, hit.term.category, f"term:{hit.term.text}", hit.term.severity)


class RuleEngine:
    """The default term list plus per-channel rules, compiled lazily and cached per channel."""

    def __init__(
        self,
        *,
        default_terms: Sequence[Term] | None = None,
        default_permitted: Sequence[str] | None = None,
        language: str = "en",
        cache_size: int = 4096,
    ) -> None:
        """`default_permitted`: the shipped list's permitted phrases unless given, or none when
        `default_terms` is given (a list of one's own comes without the shipped exceptions)."""
        terms = load_default_terms(language) if default_terms is None else default_terms
        if default_permitted is None:
            default_permitted = load_default_permitted(language) if default_terms is None else ()
        self.default_permitted = tuple(default_permitted)
        self.default_matcher = TermMatcher(terms) if terms else None
        self._default_rules = ChannelRules(
            default=self.default_matcher, default_permitted=self.default_permitted
        )
        self._channels: dict[str, ChannelTerms] = {}
        self._compiled: OrderedDict[str, ChannelRules] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def set_channel_terms(
        self,
        channel_id: str,
        *,
        blocked: Sequence[Term | str] = (),
        permitted: Sequence[str] = (),
        regexes: Sequence[RegexRule] = (),
        use_defaults: bool = True,
    ) -> None:
        """Set a channel's rules (replacing earlier ones). Plain-string blocked terms get
        `CHANNEL_TERM_CATEGORY` and `CHANNEL_TERM_SEVERITY`. Raises a `ConfigurationError`
        subclass naming the bad term or rule, and then changes nothing."""
        spec = ChannelTerms(
            blocked=tuple(
                as_terms(blocked, category=CHANNEL_TERM_CATEGORY, severity=CHANNEL_TERM_SEVERITY)
            ),
            permitted=tuple(permitted),
            regexes=tuple(regexes),
            use_defaults=use_defaults,
        )
        rules = ChannelRules(
            default=self.default_matcher, channel=spec, default_permitted=self.default_permitted
        )  # validates
        with self._lock:
            self._channels[channel_id] = spec
            self._store(channel_id, rules)

    def clear_channel_terms(self, channel_id: str) -> None:
        """Return a channel to the default rules."""
        with self._lock:
            self._channels.pop(channel_id, None)
            self._compiled.pop(channel_id, None)

    def for_channel(self, channel_id: str) -> ChannelRules:
        """The compiled rules for a channel (the defaults when it has none of its own)."""
        spec = self._channels.get(channel_id)
        if spec is None:
            return self._default_rules
        rules = self._compiled.get(channel_id)
        if rules is None:
            rules = ChannelRules(
                default=self.default_matcher,
                channel=spec,
                default_permitted=self.default_permitted,
            )
            with self._lock:
                self._store(channel_id, rules)
        return rules

    def _store(self, channel_id: str, rules: ChannelRules) -> None:
        self._compiled[channel_id] = rules
        self._compiled.move_to_end(channel_id)
        while len(self._compiled) > self._cache_size:
            self._compiled.popitem(last=False)


class RuleDetector:
    """The rules as a detector: reads the channel's rules by `message.channel_id`."""

    name = "rules"

    def __init__(self, *, engine: RuleEngine | None = None) -> None:
        self.engine = engine or RuleEngine()

    def detect(self, item: FilterInput) -> Detection:
        return self.engine.for_channel(item.message.channel_id).scan(item)

    def detect_many(self, items: Sequence[FilterInput]) -> list[Detection]:
        """`detect` for a batch, each channel's messages scanned together."""
        channels: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            channels.setdefault(item.message.channel_id, []).append(index)
        if len(channels) == 1:
            return self.engine.for_channel(items[0].message.channel_id).scan_many(items)
        found = [NOTHING] * len(items)
        for channel, indices in channels.items():
            rules = self.engine.for_channel(channel)
            for index, detection in zip(
                indices, rules.scan_many([items[i] for i in indices]), strict=True
            ):
                found[index] = detection
        return found
