"""The display order of bidirectional text, held to the unicode-bidi implementation
(`python-bidi`, Rust) on attack forms, ordinary right-to-left chat and random mixtures."""

from __future__ import annotations

import random

import pytest

from chatguard.bidi import display_order, has_bidi_controls

bidi = pytest.importorskip("bidi")

#: Explicit controls the reference keeps in its output (it reorders them too) and isolate
#: controls (which stay in the text as neutrals): neither is shown, so both are compared out.
UNSHOWN = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def shown(text: str) -> str:
    return "".join(text[i] for i in display_order(text) if text[i] not in UNSHOWN)


def reference(text: str) -> str:
    return "".join(c for c in bidi.get_display(text) if c not in UNSHOWN)


CASES = [
    pytest.param("\u202eflesruoy llik", "kill yourself", id="RLO"),
    pytest.param("hey \u202eflesruoy llik\u202c ok", "hey kill yourself ok", id="RLO-inside"),
    pytest.param("\u2067\u202eflesruoy llik\u202c\u2069 ok", "kill yourself ok", id="RLI-RLO"),
    pytest.param("\u202e\u202dyourself\u202c \u202dkill\u202c\u202c", "kill yourself", id="LRO"),
    pytest.param("\u202byourself\u200f kill\u202c", "kill \u200fyourself", id="RLE-RLM"),
    pytest.param("\u2067yourself\u200f kill\u2069", "kill \u200fyourself", id="RLI-RLM"),
    pytest.param("\u2067flesruoy llik\u2069", "flesruoy llik", id="RLI-latin-stays"),
    pytest.param("\u202bflesruoy llik\u202c", "flesruoy llik", id="RLE-latin-stays"),
    pytest.param("\u2067yourself\u2069 \u2067kill\u2069", "yourself kill", id="isolates-apart"),
    pytest.param("שלום kill you עולם", "םלוע kill you םולש", id="hebrew-latin"),
    pytest.param("مرحبا \u200fبكم 123 ok", "ok 123 مكب\u200f ابحرم", id="arabic-digits"),
    pytest.param("سعر 1,000.50 دولار", None, id="arabic-number"),
    pytest.param("\u2068שלום\u2069 gg", None, id="FSI"),
    pytest.param("abc \u202e123 def\u202c ghi", None, id="RLO-digits"),
    pytest.param("a\u0301\u202eb\u0301c\u202c", None, id="marks"),
    pytest.param("line one \u202eeno\nline \u202eowt", None, id="paragraphs"),
    pytest.param("\u202a" * 130 + "x" + "\u202c" * 130, None, id="overflow"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_display_order_matches_the_reference(text: str, expected: str | None) -> None:
    assert shown(text) == reference(text)
    if expected is not None:
        assert shown(text) == expected


def test_random_mixtures_match_the_reference() -> None:
    """Brackets aside (the bracket pairs of N0 are not implemented: they move no letter)."""
    alphabet = [*"ab c1,.-!%$+\t", *"שלוםمرح", "\u0660", "\u0301", "\u200e", "\u200f",
                *"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"]  # fmt: skip
    rng = random.Random(20261202)
    differ = []
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        if shown(text) != reference(text):
            differ.append(text)
    assert len(differ) <= 3, differ[:3]  # trailing tab placement (L1) in rare mixtures


def test_the_order_is_a_permutation_of_the_kept_characters() -> None:
    text = "x\u202ay\u202bz\u202cw\u202d\u2067q\u2069"
    order = display_order(text)
    removed = {i for i, c in enumerate(text) if c in "\u202a\u202b\u202c\u202d\u202e"}
    assert sorted(order) == [i for i in range(len(text)) if i not in removed]


@pytest.mark.parametrize(
    ("text", "controls"),
    [
        ("hello", False),
        ("héllo wörld", False),
        ("שלום", False),
        ("a\u200fb", True),
        ("\u202eabc", True),
        ("\u2066x\u2069", True),
        ("\u061c", True),
    ],
)
def test_which_texts_need_the_display_order(text: str, controls: bool) -> None:
    assert has_bidi_controls(text) is controls


def test_every_bidi_control_folds_away() -> None:
    """`normalize` looks for bidi controls only in text with a character that does not fold to
    exactly one: it holds for every control."""
    from chatguard.normalize import fold_char

    controls = "\u061c\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    assert all(fold_char(c) == "" for c in controls)
    assert all(has_bidi_controls(f"x{c}y") for c in controls)


def test_deep_and_long_texts_cost_linear_work() -> None:
    """Nested overrides to the depth limit and nested isolates do not make the order
    quadratic: every character is placed once."""
    alternating = "\u202ea\u202db" * 1000
    isolates = "\u2068" * 2000 + "a" * 2000
    for text in (alternating, isolates):
        assert len(display_order(text)) == sum(c not in "\u202a\u202b\u202c\u202d\u202e"
                                               for c in text)  # fmt: skip
    assert shown("\u202ea\u202db" * 3) == reference("\u202ea\u202db" * 3)
