"""Every evasion form is normalized back and caught, with evidence pointing at what the user
wrote; words that merely contain a term are left alone."""

from __future__ import annotations

import pytest
from helpers_filter import item

from chatguard.filter.rules import RuleDetector, RuleEngine
from chatguard.normalize import normalize
from chatguard.taxonomy import Category

DETECTOR = RuleDetector(engine=RuleEngine())

EVASIONS = [
    # (id, text, the evidence the span must cover, category)
    ("plain", "what the fuck man", "fuck", Category.PROFANITY),
    ("uppercase", "WHAT THE FUCK", "FUCK", Category.PROFANITY),
    ("leet-4", "f4ck this", "f4ck", Category.PROFANITY),
    ("leet-1", "you b1tch", "b1tch", Category.PROFANITY),
    ("leet-bang", "sh!t happens", "sh!t", Category.PROFANITY),
    ("leet-dollar", "a$$hole", "a$$hole", Category.PROFANITY),
    ("leet-digits-slur", "n1gg3r", "n1gg3r", Category.HATE),
    ("leet-1-for-l", "ki11 yourse1f", "ki11 yourse1f", Category.HARASSMENT_THREATENING),
    ("masked-star", "f*ck off", "f*ck", Category.PROFANITY),
    ("spaced", "f u c k you", "f u c k", Category.PROFANITY),
    ("dotted", "f.u.c.k you", "f.u.c.k", Category.PROFANITY),
    ("dashed", "f-u-c-k", "f-u-c-k", Category.PROFANITY),
    ("underscored", "f_u_c_k", "f_u_c_k", Category.PROFANITY),
    ("spaced-leet", "$ h 1 t", "$ h 1 t", Category.PROFANITY),
    ("spaced-acronym", "K Y S", "K Y S", Category.HARASSMENT_THREATENING),
    ("repeated", "fuuuuuck", "fuuuuuck", Category.PROFANITY),
    ("repeated-many", "shiiiiiiit", "shiiiiiiit", Category.PROFANITY),
    ("cyrillic", "ѕһіт", "ѕһіт", Category.PROFANITY),
    ("cyrillic-mixed", "bіtсh", "bіtсh", Category.PROFANITY),
    ("greek", "fυck", "fυck", Category.PROFANITY),
    ("fullwidth", "ｆｕｃｋ", "ｆｕｃｋ", Category.PROFANITY),
    ("math-bold", "𝐟𝐮𝐜𝐤", "𝐟𝐮𝐜𝐤", Category.PROFANITY),
    ("math-script", "𝓈𝒽𝒾𝓉", "𝓈𝒽𝒾𝓉", Category.PROFANITY),
    ("small-caps", "ꜰᴜᴄᴋ", "ꜰᴜᴄᴋ", Category.PROFANITY),
    ("zero-width-space", "fu\u200bck", "fu\u200bck", Category.PROFANITY),
    ("zero-width-joiner", "f\u200du\u200dc\u200dk", "f\u200du\u200dc\u200dk", Category.PROFANITY),
    ("soft-hyphen", "sh\u00adit", "sh\u00adit", Category.PROFANITY),
    ("bidi-override", "fu\u202eck", "fu\u202eck", Category.PROFANITY),
    ("bidi-isolate", "\u2066kys\u2069", "kys", Category.HARASSMENT_THREATENING),
    ("accents", "fück", "fück", Category.PROFANITY),
    ("combining-marks", "f\u0301u\u0308c\u0327k", "f\u0301u\u0308c\u0327k", Category.PROFANITY),
    ("zalgo", "s̷̛h̸i̴t̵", "s̷̛h̸i̴t̵", Category.PROFANITY),
    ("punctuation-after", "shit!!!", "shit", Category.PROFANITY),
    ("emoji-after", "fuck😀", "fuck", Category.PROFANITY),
    ("wildcard-suffix", "fucking hell", "fucking", Category.PROFANITY),
    ("phrase-spacing", "kill    yourself", "kill    yourself", Category.HARASSMENT_THREATENING),
    ("phrase-apostrophe", "I'll kill you", "I'll kill you", Category.HARASSMENT_THREATENING),
]


@pytest.mark.parametrize(
    ("text", "evidence", "category"),
    [pytest.param(t, e, c, id=i) for i, t, e, c in EVASIONS],
)
def test_evasion_is_caught_and_span_points_at_the_original(
    text: str, evidence: str, category: Category
) -> None:
    detection = DETECTOR.detect(item(text))
    assert category in detection.scores
    found = [text[s.start : s.end] for s in detection.spans if s.category is category]
    assert evidence in found


FALSE_FRIENDS = [
    "Scunthorpe United won",
    "the assassin was caught",
    "a cocktail party",
    "my friend Shital",
    "a classic game",
    "Penistone is a town",
    "as I said before",
    "but why though",
    "Niger is a country",
    "the basement is dry",
    "pass the grass",
    "shiitake mushrooms",
    "a batch of cookies",
    "hello there",
    "Dickens wrote novels",
    "cumulative damage",
    "I said hi 4 times",
    "1st place",
    "!commands",
    "**bold** text",
    "gg!!",
    "a b c d e",
    "mfw",
    "therapist",
    "grape",
    "analysis",
    "button",
    "Matsushita",
    "hancock",
    "spice girls",
]


@pytest.mark.parametrize("text", [pytest.param(t, id=t) for t in FALSE_FRIENDS])
def test_words_containing_a_term_are_left_alone(text: str) -> None:
    assert DETECTOR.detect(item(text)).scores == {}


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        pytest.param("ＡＢＣ", "abc", id="fullwidth"),
        pytest.param("𝐀𝐁𝐂", "abc", id="math-bold"),
        pytest.param("аbс", "abc", id="cyrillic"),
        pytest.param("a\u200bb\u2060c", "abc", id="invisible"),
        pytest.param("\u2066abc\u2069", "abc", id="bidi-isolate"),
        pytest.param("àbç", "abc", id="accents"),
        pytest.param("Straße", "strasse", id="eszett"),
    ],
)
def test_normalize_folds_and_maps_back(text: str, folded: str) -> None:
    normalized = normalize(text)
    assert normalized.folded == folded
    start, end = normalized.original_span(0, len(normalized.folded))
    assert normalize(text[start:end]).folded == folded
