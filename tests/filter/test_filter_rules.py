"""The rule engine: default list as data, per-channel blocked/permitted terms with wildcards,
regex rules, and clear errors for bad rules."""

from __future__ import annotations

import random
import re

import pytest
from helpers_filter import item

from chatguard.errors import ConfigurationError
from chatguard.filter.rules import RegexRule, RuleDetector, RuleEngine
from chatguard.filter.terms import InvalidTermError, Term, TermMatcher, load_default_terms
from chatguard.taxonomy import Category


@pytest.fixture
def engine() -> RuleEngine:
    return RuleEngine()


def scan(engine: RuleEngine, text: str, channel: str = "c1"):
    return RuleDetector(engine=engine).detect(item(text, channel=channel))


def test_default_list_is_data_with_categories_and_severities() -> None:
    terms = load_default_terms("en")
    categories = {t.category for t in terms}
    assert {Category.PROFANITY, Category.HATE, Category.HARASSMENT_THREATENING} <= categories
    assert len({t.severity for t in terms}) > 2
    assert len(terms) > 150


def test_unknown_language_is_a_named_error() -> None:
    with pytest.raises(ConfigurationError, match="xx"):
        load_default_terms("xx")


@pytest.mark.parametrize(
    ("blocked", "text", "hit"),
    [
        pytest.param(["badger"], "you badger", True, id="exact"),
        pytest.param(["badger"], "badgers everywhere", False, id="exact-not-plural"),
        pytest.param(["badger*"], "badgers everywhere", True, id="suffix-wildcard"),
        pytest.param(["*badger"], "honeybadger", True, id="prefix-wildcard"),
        pytest.param(["*badg*"], "superbadgering", True, id="both-wildcards"),
        pytest.param(["badger"], "b4dg3r", True, id="leet-in-text"),
        pytest.param(["b4dger"], "b4dger", True, id="leet-in-term"),
        pytest.param(["b4dger"], "badger", False, id="leet-in-term-is-literal"),
        pytest.param(["bad word"], "bad    word", True, id="phrase"),
        pytest.param(["bad word"], "badword", False, id="phrase-needs-the-space"),
    ],
)
def test_channel_blocked_terms(engine: RuleEngine, blocked, text: str, hit: bool) -> None:
    engine.set_channel_terms("c1", blocked=blocked)
    detection = scan(engine, text)
    assert (Category.PROFANITY in detection.scores) is hit
    if hit:
        assert detection.scores[Category.PROFANITY] == 0.9  # a streamer's blocked term acts


def test_channel_terms_do_not_leak_to_other_channels(engine: RuleEngine) -> None:
    engine.set_channel_terms("c1", blocked=["badger"])
    assert scan(engine, "badger", "c1").scores
    assert not scan(engine, "badger", "c2").scores


def test_permitted_term_overrides_default(engine: RuleEngine) -> None:
    assert scan(engine, "damn it", "c1").scores
    engine.set_channel_terms("c1", permitted=["damn"])
    assert not scan(engine, "damn it", "c1").scores
    assert scan(engine, "damn it", "c2").scores  # default elsewhere
    assert scan(engine, "shit", "c1").scores  # other defaults still apply


SELF_TALK = [
    pytest.param("i'm such an idiot lol", False, id="i'm-such-an-idiot"),
    pytest.param("im such an idiot", False, id="im-such-an-idiot"),
    pytest.param("I’m an idiot", False, id="curly-apostrophe"),
    pytest.param("idiot move by me", False, id="idiot-move-by-me"),
    pytest.param("what a loser i am", False, id="what-a-loser-i-am"),
    pytest.param("you idiot", True, id="you-idiot"),
    pytest.param("idiot move by you", True, id="idiot-move-by-you"),
    pytest.param("you idiot, i'm such an idiot", True, id="aimed-and-self"),
    pytest.param("what a loser", True, id="what-a-loser"),
]


@pytest.mark.parametrize(("text", "hit"), SELF_TALK)
def test_an_insult_that_names_the_speaker_is_no_rule_hit(
    engine: RuleEngine, text: str, hit: bool
) -> None:
    assert (Category.HARASSMENT in scan(engine, text).scores) is hit


def test_the_shipped_exceptions_go_with_the_shipped_list(engine: RuleEngine) -> None:
    engine.set_channel_terms("c1", blocked=["idiot"], use_defaults=False)
    assert scan(engine, "i'm such an idiot", "c1").scores  # a list of one's own: no exceptions
    custom = RuleEngine(default_terms=[Term("idiot", Category.HARASSMENT, 0.6)])
    assert scan(custom, "i'm such an idiot").scores


def test_permitted_wildcard_covers_longer_words(engine: RuleEngine) -> None:
    engine.set_channel_terms("c1", blocked=["heck"], permitted=["heck*"])
    assert not scan(engine, "heckin good", "c1").scores


def test_channel_can_drop_the_default_list(engine: RuleEngine) -> None:
    engine.set_channel_terms("c1", blocked=["badger"], use_defaults=False)
    assert not scan(engine, "shit", "c1").scores
    assert scan(engine, "badger", "c1").scores


def test_clearing_returns_to_defaults(engine: RuleEngine) -> None:
    engine.set_channel_terms("c1", permitted=["shit"])
    engine.clear_channel_terms("c1")
    assert scan(engine, "shit", "c1").scores


def test_term_objects_keep_category_and_severity(engine: RuleEngine) -> None:
    engine.set_channel_terms("c1", blocked=[Term("scam link", Category.SPAM, 0.7)])
    assert scan(engine, "a scam link here").scores == {Category.SPAM: 0.7}


def test_regex_rules_match_folded_text(engine: RuleEngine) -> None:
    engine.set_channel_terms(
        "c1", regexes=[RegexRule(r"\bdiscord\.gg/\w+", Category.SPAM, 0.8, name="invite")]
    )
    text = "join DISCORD.GG/abc now"
    detection = scan(engine, text)
    assert detection.scores == {Category.SPAM: 0.8}
    span = detection.spans[0]
    assert text[span.start : span.end] == "DISCORD.GG/abc"
    assert span.label == "regex:invite"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"blocked": ["ba*dger"]}, InvalidTermError, id="star-inside"),
        pytest.param({"blocked": ["***"]}, InvalidTermError, id="only-stars"),
        pytest.param({"blocked": [""]}, InvalidTermError, id="empty"),
        pytest.param({"regexes": [RegexRule("(unclosed")]}, ConfigurationError, id="bad-regex"),
    ],
)
def test_bad_rules_are_refused_and_change_nothing(engine: RuleEngine, kwargs, error) -> None:
    engine.set_channel_terms("c1", permitted=["shit"])
    with pytest.raises(error):
        engine.set_channel_terms("c1", **kwargs)
    assert not scan(engine, "shit", "c1").scores  # the earlier rules still stand


def test_bad_severity_is_refused() -> None:
    with pytest.raises(InvalidTermError):
        Term("x", Category.PROFANITY, 1.5)


def test_compiled_rules_are_cached_per_channel(engine: RuleEngine) -> None:
    engine.set_channel_terms("c1", blocked=["badger"])
    assert engine.for_channel("c1") is engine.for_channel("c1")
    assert engine.for_channel("nobody") is engine.for_channel("other")


def test_matcher_uses_one_automaton_for_many_terms() -> None:
    matcher = TermMatcher(Term(f"word{i}x") for i in range(5000))
    assert len(matcher) == 5000
    detection_terms = [h.term.text for h in matcher.find(item("say word4321x now").skeleton)]
    assert detection_terms == ["word4321x"]


def test_reasons_name_the_rule_not_the_message(engine: RuleEngine) -> None:
    detection = scan(engine, "well shit")
    assert detection.reasons == ("term:shit (profanity)",)


def _boundary_led(regex: re.Pattern[str]) -> re.Pattern[str]:
    """A confirmation pattern in its plain form: the boundary, then the first character's
    whole run ("(?<!\\S)x+"), as the terms were first written."""
    pattern = regex.pattern
    if not pattern.startswith(r"\S*"):
        atom, rest = pattern.split(r"(?<!\S.)", 1)
        more = re.match(re.escape(atom) + r"(\*|\+|\{(\d+),\})", rest)
        assert more is not None, pattern
        count = {"*": 1, "+": 2}.get(more.group(1)) or int(more.group(2)) + 1
        pattern = rf"(?<!\S){atom}{{{count},}}" + rest[more.end() :]
    return re.compile(pattern)


def test_confirmation_patterns_led_by_a_character_match_as_boundary_led_ones() -> None:
    terms = (*load_default_terms(), Term("a$$*"), Term("*hole"), Term("kill yourself"))
    terms += (Term("ssh"), Term("oooh*"))
    matcher = TermMatcher(terms)
    rng = random.Random(4)
    texts = ["ass as asss hell hel fuck fucking the fuckers", "xass ass. ass", "  kill   yourself"]
    texts += ["ssh sh sssh", "oooh ooohh oh Ooh"]
    texts += ["".join(rng.choice("asfuckhel AIOX") for _ in range(40)) for _ in range(300)]
    for compiled in matcher._compiled:
        plain = _boundary_led(compiled.regex)
        for text in texts:
            got = [m.span() for m in compiled.regex.finditer(text)]
            assert got == [m.span() for m in plain.finditer(text)], (compiled.term.text, text)
