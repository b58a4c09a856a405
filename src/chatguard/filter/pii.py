"""Personal data in chat: emails, phone numbers, payment cards, IBANs, US SSNs, IP addresses and
street addresses, with their spans, and redaction.

Each recognizer is mostly data (an entity name, a pattern, a score and a validator), as in
Presidio; entity names are Presidio's, so results compare directly with its datasets. Phone
numbers are found by Google's `phonenumbers` library; cards need a valid Luhn checksum, IBANs a
valid mod-97 checksum and their country's length, SSNs a possible area/group/serial.
Messages without a digit or an '@' (most chat) are skipped after one regex search.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Literal

import phonenumbers

from chatguard.domain import Span
from chatguard.filter.detection import NOTHING, Detection, FilterInput, scores_from_spans
from chatguard.filter.injection import required_literals
from chatguard.filter.scanner import KeyScanner
from chatguard.filter.skeleton import SEPARATOR, text_ends
from chatguard.taxonomy import Category

EMAIL = "EMAIL_ADDRESS"
PHONE = "PHONE_NUMBER"
CARD = "CREDIT_CARD"
IBAN = "IBAN_CODE"
SSN = "US_SSN"
IP = "IP_ADDRESS"
ADDRESS = "STREET_ADDRESS"
ENTITIES: tuple[str, ...] = (EMAIL, PHONE, CARD, IBAN, SSN, IP, ADDRESS)

#: The PII score each entity gives. The router acts at 0.85 by default: cards, IBANs and SSNs
#: are removed, the rest is left to the next stages and channel policy.
DEFAULT_SCORES: dict[str, float] = {
    CARD: 0.95,
    IBAN: 0.95,
    SSN: 0.95,
    EMAIL: 0.8,
    PHONE: 0.8,
    ADDRESS: 0.7,
    IP: 0.6,
}


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a card number (digits only)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


# IBAN lengths per country (ISO 13616 registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def iban_ok(candidate: str) -> bool:
    """The country length and mod-97 checksum of an IBAN (spaces allowed)."""
    iban = candidate.replace(" ", "").upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def ssn_ok(candidate: str) -> bool:
    """A US SSN the SSA could have issued (area not 000, 666 or 9xx; group and serial not 0)."""
    digits = re.sub(r"\D", "", candidate)
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if len(set(digits)) == 1 or digits == "123456789":
        return False
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def card_ok(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    return 12 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits)


def ip_ok(candidate: str) -> bool:
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    # Versions and scores like "1.2.3.4" are common in chat; unspecified addresses are not PII.
    return not address.is_unspecified


@dataclass(frozen=True, slots=True)
class Recognizer:
    """A pattern for one entity type, with an optional validator of each candidate. The pattern
    is only tried on text with at least `min_digits` digits and, if set, a match of the cheap
    `hint` pattern: most chat has neither, and a regex not run costs nothing."""

    entity: str
    pattern: re.Pattern[str]
    validate: Callable[[str], bool] | None = None
    min_digits: int = 0
    hint: re.Pattern[str] | None = None
    #: A pattern that finds something in every text `pattern` finds something in, led by a
    #: literal where it can be, so the regex engine skips ahead to it (a character class is
    #: tried at every position): the batch screen (`detect_many`) passes over texts it does
    #: not match. None: no screen beyond `min_digits`.
    screen: re.Pattern[str] | None = None


_STREET_SUFFIX = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
    r"terrace|ter|parkway|pkwy|circle|cir|square|sq|highway|hwy|alley|trail|crescent|close"
)
_EUROPEAN_STREET = (
    r"strasse|straße|str|gasse|weg|platz|allee|katu|tie|gatan|vägen|vej|gade|laan|straat|"
    r"plein|utca|ulica|ul"
)

#: A letter right before a digit, as an IBAN starts ("de89...").
_LETTER_DIGIT = re.compile(r"\d(?<=[a-z]\d)")

RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer(
        EMAIL,
        re.compile(
            r"(?<![\w.+-])[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}\b"
        ),
        hint=re.compile(r"\w@[a-z0-9-]+\.[a-z0-9]"),  # not "@streamer hi"
        screen=re.compile(r"@(?<=\w@)[a-z0-9-]+\.[a-z0-9]"),
    ),
    # IBANs written compact or in groups of four; the second grouped form leaves out a short
    # last group, in case a short word follows the number ("... 1234 to").
    Recognizer(
        IBAN,
        re.compile(r"\b[a-z]{2}\d{2}[a-z0-9]{11,30}\b"),
        iban_ok,
        min_digits=4,
        screen=_LETTER_DIGIT,
    ),
    Recognizer(
        IBAN,
        re.compile(r"\b[a-z]{2}\d{2}(?: [a-z0-9]{4}){2,7}(?: [a-z0-9]{1,3})?\b"),
        iban_ok,
        min_digits=4,
        screen=_LETTER_DIGIT,
    ),
    Recognizer(
        IBAN,
        re.compile(r"\b[a-z]{2}\d{2}(?: [a-z0-9]{4}){2,7}\b"),
        iban_ok,
        min_digits=4,
        screen=_LETTER_DIGIT,
    ),
    Recognizer(
        CARD,
        # Contiguous, in groups of four, or grouped 4-6-5 (American Express).
        re.compile(
            r"(?<![\d+-])(?:\d{12,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{5})"
            r"(?![\d-])"
        ),
        card_ok,
        min_digits=12,
    ),
    Recognizer(
        SSN,
        re.compile(r"(?<![\d-])\d{3}([- .])\d{2}\1\d{4}(?![\d-])"),
        ssn_ok,
        min_digits=9,
    ),
    Recognizer(
        IP,
        re.compile(
            r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
        ),
        ip_ok,
        min_digits=4,
        hint=re.compile(r"\d\.\d{1,3}\.\d"),
        screen=re.compile(r"\.(?<=\d\.)\d{1,3}\.\d"),
    ),
    Recognizer(
        IP,
        re.compile(r"(?<![\w:])(?:[0-9a-f]{1,4}:){2,7}:?(?::?[0-9a-f]{1,4}){1,7}(?![\w:])"),
        ip_ok,
        hint=re.compile(r"[0-9a-f]:[0-9a-f:]*:"),
        screen=re.compile(r":(?<=[0-9a-f]:)[0-9a-f:]*:"),
    ),
    Recognizer(
        ADDRESS,
        re.compile(
            r"\b\d{1,6}[a-z]?(?: [a-z][\w'.-]*){1,4} (?:" + _STREET_SUFFIX + r")\b\.?"
            r"(?:,? ?(?:apt|apartment|suite|ste|unit|#)\.? ?\w+)?"
        ),
        min_digits=1,
        # a number, then up to four words and a street suffix (the pattern, led by a digit)
        screen=re.compile(
            r"\d[a-z]?(?: [a-z][\w'.-]*){1,4} (?:" + _STREET_SUFFIX + r")\b",
        ),
    ),
    Recognizer(
        ADDRESS,
        re.compile(
            r"\b[a-zäöüß-]+(?:" + _EUROPEAN_STREET + r")\.? \d{1,5}[a-z]?\b"
            r"|\b(?:rua|rue|via|calle|avenida|av\.|avenue|ulica|strada) (?:[\w'.-]+ ){1,4}\d{1,5}\b"
        ),
        min_digits=1,
        screen=re.compile(r" (?=\d)"),  # either form has a number after a space
        # A street word before a house number, or a Romance street word at all.
        hint=re.compile(
            r"(?:" + _EUROPEAN_STREET + r")\.? \d"
            r"|(?:rua|rue|via|calle|avenida|av\.|avenue|ulica|strada) "
        ),
    ),
)

#: Digits or '@': without one, nothing here can match (street names alone are not matched).
_MAY_HOLD_PII = re.compile(r"[\d@]")
MIN_PHONE_DIGITS = 7
MAX_PHONE_DIGITS = 15  # E.164
#: A link: a token with a scheme, "www." or a domain followed by a path. Tried only where a
#: token starts (the lookbehind), so a long token without one is not rescanned from each of
#: its characters.
_LINKISH = re.compile(r"(?<![^\s@])[^\s@]*?(?:://|www\.|\.[a-z]{2,}/)[^\s@]*")


def _without_links(text: str) -> str:
    """Numbers inside links (status ids, video ids) are not anyone's phone or card: the links
    are blanked out with spaces, which keeps every offset."""
    if "/" not in text:
        return text
    return _LINKISH.sub(lambda m: " " * len(m.group(0)), text)


def _digits(text: str) -> int:
    raw = text.encode("utf-8", "surrogatepass")
    return len(raw) - len(raw.translate(None, b"0123456789"))


_NOT_DIGIT_OR_SEPARATOR = bytes(c for c in range(1, 256) if not 48 <= c <= 57)


def _digit_counts(texts: list[str]) -> list[int]:
    """`_digits` of each text, in a few C-level calls for the batch (per text only if a text
    holds the separator itself)."""
    joined = SEPARATOR.join(texts)
    if joined.count(SEPARATOR) == len(texts) - 1:
        kept = joined.encode("utf-8", "surrogatepass").translate(None, _NOT_DIGIT_OR_SEPARATOR)
        return list(map(len, kept.split(SEPARATOR.encode())))
    return [_digits(text) for text in texts]


class _BatchCheck:
    """A screen or hint tried on a batch: one pass of its pattern over the joined texts it is
    given, after a pass of an Aho-Corasick automaton of the strings every match of it holds
    (when those are at least two characters long: a regex led by an alternation of words,
    like the street names, tries every word at every position, the automaton does not)."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        literals = required_literals(pattern)
        self.scanner: KeyScanner | None = None
        if literals and min(map(len, literals)) >= 2:
            self.scanner = KeyScanner(sorted(literals))

    def matched(self, texts: list[str], chosen: Sequence[int]) -> list[int]:
        """The indices in `chosen` of the texts the pattern finds something in (the patterns
        here hold no separator, so no match spans two texts)."""
        if self.scanner is not None:
            holding = self.scanner.scan([texts[i] for i in chosen])
            chosen = [chosen[position] for position in sorted(holding)]
        picked = [texts[i] for i in chosen]
        ends = text_ends(picked)
        found: list[int] = []
        last = -1
        for match in self.pattern.finditer(SEPARATOR.join(picked)):
            position = bisect_right(ends, match.start())
            if position != last:
                found.append(chosen[position])
                last = position
        return found


#: Where a phone number may be: seven or more digits close together, with what may lead or
#: trail them. Only these stretches are handed to phonenumbers, not the whole message.
_PHONE_STRETCH = re.compile(
    r"(?:\+\s?|\()?\d(?:[\s().+/-]{0,3}\d){6,}(?:\s?(?:x|ext\.?)\s?\d{1,6})?"
)


class PiiDetector:
    """Finds personal data. `regions` are the phonenumbers regions used to read numbers
    written without a country code (first the default, then the others)."""

    name = "pii"

    def __init__(
        self,
        *,
        entities: Iterable[str] = ENTITIES,
        scores: dict[str, float] | None = None,
        regions: Sequence[str] = ("GB", "US"),
        recognizers: Sequence[Recognizer] = RECOGNIZERS,
    ) -> None:
        self.entities = frozenset(entities)
        unknown = self.entities - set(ENTITIES)
        if unknown:
            raise ValueError(f"unknown PII entities {sorted(unknown)}; known: {list(ENTITIES)}")
        self.scores = {**DEFAULT_SCORES, **(scores or {})}
        self.regions = tuple(regions)
        self.recognizers = tuple(r for r in recognizers if r.entity in self.entities)
        # The batch screen (`_screen`): the fewest digits that let a recognizer without a
        # screen or hint (or a phone number) run, and each distinct pair of screen and hint
        # with the fewest digits it needs.
        unscreened = [r.min_digits for r in self.recognizers if r.screen is r.hint is None]
        if PHONE in self.entities:
            unscreened.append(MIN_PHONE_DIGITS)
        self._unscreened_min = min(unscreened) if unscreened else None
        screens: dict[tuple[re.Pattern[str], ...], int] = {}
        for r in self.recognizers:
            checks = tuple(p for p in (r.screen, r.hint) if p is not None)
            if checks:
                screens[checks] = min(screens.get(checks, r.min_digits), r.min_digits)
        self._screens = tuple(
            (tuple(map(_BatchCheck, checks)), min_digits) for checks, min_digits in screens.items()
        )

    def detect_many(self, items: Sequence[FilterInput]) -> list[Detection]:
        """`detect` for a batch: screened over the joined texts at C level (see `_screen`),
        so that only the few messages a recognizer may match are looked at one by one."""
        texts = [item.normalized.folded for item in items]
        found = [NOTHING] * len(items)
        for index in self._screen(texts):
            text = _without_links(texts[index])
            digits = _digits(text)
            if self._may_match(text, digits):
                normalized = items[index].normalized
                found[index] = self._detection(self._find(text, digits, normalized.original_span))
        return found

    def _screen(self, texts: list[str]) -> list[int]:
        """The indices of the texts `_may_match` may accept, in order, found at C level for
        the batch: a text with enough digits for a recognizer that has neither screen nor
        hint (or for a phone number), or one that a recognizer's screen and hint both match,
        each tried in one pass over the joined texts that have the recognizer's `min_digits`.
        Links are not blanked out first: blanking only takes digits and characters away, so
        it can make a screen fail but never pass, and `_may_match` has the last word."""
        if not texts:
            return []
        digits = _digit_counts(texts)
        with_digits = list(compress(range(len(texts)), digits))  # most chat has none
        at_least: dict[int, Sequence[int]] = {0: range(len(texts)), 1: with_digits}

        def having(count: int) -> Sequence[int]:
            """The indices of the texts with `count` digits or more."""
            if count not in at_least:
                at_least[count] = [i for i in with_digits if digits[i] >= count]
            return at_least[count]

        candidates: set[int] = set()
        if self._unscreened_min is not None:
            candidates.update(having(self._unscreened_min))
        for checks, min_digits in self._screens:
            chosen = having(min_digits)
            for pattern in checks:
                if not chosen:
                    break
                chosen = pattern.matched(texts, chosen)
            candidates.update(chosen)
        # As `find`: nothing without a digit or an '@'.
        return sorted(i for i in candidates if digits[i] or "@" in texts[i])

    def _may_match(self, text: str, digits: int) -> bool:
        """Could `_find` find anything? False only when no recognizer can match."""
        if digits >= MIN_PHONE_DIGITS and PHONE in self.entities:
            return True
        for recognizer in self.recognizers:
            # `_find` runs a recognizer only when its hint matches too: the screen first (it
            # skips ahead), then the hint on what is left.
            if (
                digits >= recognizer.min_digits
                and (recognizer.screen is None or recognizer.screen.search(text))
                and (recognizer.hint is None or recognizer.hint.search(text))
            ):
                return True
        return False

    def detect(self, item: FilterInput) -> Detection:
        return self._detection(self.find(item.normalized.folded, item.normalized.original_span))

    @staticmethod
    def _detection(spans: list[Span]) -> Detection:
        if not spans:
            return NOTHING
        # Text with bidi controls is matched in both orders: one span per place, not two.
        spans = list(dict.fromkeys(spans))
        reasons = tuple(dict.fromkeys(f"pii:{s.label}" for s in spans))
        return Detection(scores_from_spans(spans), tuple(spans), reasons)

    def find(
        self,
        text: str,
        to_original: Callable[[int, int], tuple[int, int]] | None = None,
    ) -> list[Span]:
        """Every PII span in `text` (lowercase folded text; `to_original` maps spans back)."""
        if not _MAY_HOLD_PII.search(text):
            return []
        text = _without_links(text)
        return self._find(text, _digits(text), to_original)

    def _find(
        self,
        text: str,
        digits: int,
        to_original: Callable[[int, int], tuple[int, int]] | None,
    ) -> list[Span]:
        found: list[tuple[int, int, str]] = []
        # Card-, SSN-, IBAN- and IP-shaped numbers are not phone numbers, even when their
        # checksum fails (a mistyped card is still not a phone).
        shaped: list[tuple[int, int]] = []
        for recognizer in self.recognizers:
            if digits < recognizer.min_digits or (
                recognizer.hint is not None and not recognizer.hint.search(text)
            ):
                continue
            for match in recognizer.pattern.finditer(text):
                if recognizer.entity != ADDRESS:
                    shaped.append((match.start(), match.end()))
                if recognizer.validate is None or recognizer.validate(match.group(0)):
                    found.append((match.start(), match.end(), recognizer.entity))
        if PHONE in self.entities and digits >= MIN_PHONE_DIGITS:
            taken = shaped
            for start, end in self._phones(text):
                number = text[start:end]
                if not _phone_shaped(number):
                    continue
                if not any(s < end and start < e for s, e in taken):
                    found.append((start, end, PHONE))
                    taken.append((start, end))
        spans = []
        for start, end, entity in _without_nested(found):
            if to_original is not None:
                start, end = to_original(start, end)
            spans.append(Span(start, end, Category.PII, entity, self.scores[entity]))
        return spans

    def _phones(self, text: str) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        for stretch in _PHONE_STRETCH.finditer(text):
            offset = stretch.start()
            for region in self.regions:
                matcher = phonenumbers.PhoneNumberMatcher(
                    stretch.group(0), region, leniency=phonenumbers.Leniency.POSSIBLE
                )
                for match in matcher:
                    start, end = offset + match.start, offset + match.end
                    if not any(s < end and start < e for s, e in found):
                        found.append((start, end))
        return found


def _phone_shaped(number: str) -> bool:
    """Enough digits for a phone number, and not a bare count ("with 10917819 points"): a
    number written without any separator needs a leading + or 0, or nine digits or more."""
    digits = sum(c.isdigit() for c in number)
    distinct = len({c for c in number if c.isdigit()})
    if not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS or distinct < 3:
        return False  # postal codes, house numbers, "000000000"
    if number.isdigit():
        return number[0] == "0" or digits >= 9
    return True


def _without_nested(found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Drop a span inside a longer one (an SSN-shaped run inside a card number, say)."""
    found.sort(key=lambda f: (f[0], -f[1]))
    kept: list[tuple[int, int, str]] = []
    for start, end, entity in found:
        if kept and start >= kept[-1][0] and end <= kept[-1][1]:
            continue
        kept.append((start, end, entity))
    return kept


RedactionStyle = Literal["label", "mask"]


def redact(text: str, spans: Iterable[Span], *, style: RedactionStyle = "label") -> str:
    """`text` with every PII span replaced: by `[ENTITY]` (style "label") or by one `*` per
    character (style "mask", which keeps the length). Other categories' spans are ignored;
    overlapping spans are redacted once."""
    pii = sorted((s for s in spans if s.category is Category.PII), key=lambda s: (s.start, -s.end))
    parts: list[str] = []
    position = 0
    for span in pii:
        start, end = max(span.start, position), min(span.end, len(text))
        if start >= end:
            continue
        parts.append(text[position:start])
        parts.append(f"[{span.label or 'PII'}]" if style == "label" else "*" * (end - start))
        position = end
    parts.append(text[position:])
    return "".join(parts)


def apply_redaction(text: str, spans: Iterable[Span], mode: str) -> str:
    """`text` redacted as the `PII_REDACTION` setting says: "off" leaves it as it is, "label"
    and "mask" are `redact`'s styles."""
    if mode == "off":
        return text
    if mode not in ("label", "mask"):
        raise ValueError(f"unknown redaction mode {mode!r}; use off, label or mask")
    return redact(text, spans, style=mode)  # type: ignore[arg-type]
