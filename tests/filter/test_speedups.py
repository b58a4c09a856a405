"""The compiled kernels against plain Python models of them (on random tables: they know no
filter rules), and each use of them against its Python reference form: the same results on the
same inputs, including the state they leave behind."""

from __future__ import annotations

import os
import random
import re
import string

import pytest

from chatguard.domain import Message
from chatguard.filter import skeleton, spam
from chatguard.filter.scanner import KeyScanner
from chatguard.filter.spam import token_counts_python, words_key_python
from chatguard.filter.speedups import native
from chatguard.filter.state import observe_windows_python

pytestmark = pytest.mark.skipif(
    os.environ.get("CHATGUARD_SPEEDUPS") == "0", reason="speedups turned off"
)


def test_the_speedups_are_built() -> None:
    # The build goes on without them (pure Python), so a broken C source would go unnoticed.
    assert native is not None, "chatguard.filter._speedups is missing or stale: see hatch_build.py"


WORD_CHARS = string.ascii_letters + string.digits + " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f.-_!"


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(WORD_CHARS) for _ in range(rng.randint(0, 80)))


def random_table(rng: random.Random, values: str | bytes, share: float) -> bytes:
    """A 256-byte table: each ASCII byte mapped to one of `values` with probability `share`."""
    pool = values.encode() if isinstance(values, str) else values
    return bytes(rng.choice(pool) if rng.random() < share else 0 for _ in range(256))


def distinct_words_model(text: str, breaks: bytes) -> str | None:
    words: list[str] = []
    word = ""
    for char in text + "\x00":
        if char == "\x00" or breaks[ord(char)]:
            words += [word] if word else []
            word = ""
        else:
            word += char
    return " ".join(sorted(set(words))) if words else None


def test_distinct_words_follows_its_model_on_random_tables() -> None:
    assert native is not None
    rng = random.Random(7)
    for _ in range(3000):
        breaks = random_table(rng, b"\x01", 0.3)
        text = random_text(rng)
        assert native.distinct_words(text, breaks) == distinct_words_model(text, breaks)
    assert native.distinct_words("chаnal", bytes(256)) is NotImplemented  # a Cyrillic "а"
    with pytest.raises(ValueError):
        native.distinct_words("text", b"short")


@pytest.mark.parametrize(
    "text",
    ["", " ", " fallaw my chanal 123 my ", "a1b2c3", "999", "b a b a", "ab a abc ab",
     "\x1cword\x1fother\x0bthird", " " + "x " * 200, "w" * 1000],
)  # fmt: skip
def test_the_fingerprint_words_match_the_python_form(text: str) -> None:
    assert spam._words_key(text) == words_key_python(text)


def test_the_fingerprint_words_match_the_python_form_on_random_text() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        text = random_text(rng)
        assert spam._words_key(text) == words_key_python(text), repr(text)


@pytest.mark.parametrize(
    "text", ["", "   ", "LUL", "LUL LUL  LUL\tKappa", "a b c d e f g h i j", "x\x1cx\x1fy"]
)
def test_token_counts_match_the_python_form(text: str) -> None:
    assert native is not None
    assert native.token_counts(text) == token_counts_python(text)


def test_token_counts_match_the_python_form_on_random_text() -> None:
    assert native is not None
    rng = random.Random(5)
    for _ in range(5000):
        # few distinct characters, so that tokens repeat
        text = "".join(rng.choice("ab \tK1") for _ in range(rng.randint(0, 60)))
        assert native.token_counts(text) == token_counts_python(text), repr(text)
    assert native.token_counts("Kappa 🔥 Kappa") is NotImplemented
    with pytest.raises(TypeError):
        native.token_counts(b"bytes")


def char_profile_model(text: str, classes: bytes, runs: int) -> tuple[int, ...]:
    width = max(classes) + 1
    counts = [0] * width
    for char in text:
        counts[classes[ord(char)]] += 1
    longest = max(
        (len(m.group(0)) for m in re.finditer(r"(.)\1*", text, re.DOTALL)
         if runs >> classes[ord(m.group(1))] & 1),
        default=0,
    )  # fmt: skip
    return (*counts, longest)


def test_char_profile_follows_its_model_on_random_tables() -> None:
    assert native is not None
    rng = random.Random(19)
    for _ in range(300):
        classes = bytes(rng.randrange(6) for _ in range(256))
        runs = rng.randrange(64)
        texts = ["".join(rng.choice("aaB b..@@\t!") for _ in range(rng.randint(0, 40)))
                 for _ in range(10)]  # fmt: skip
        expected = [char_profile_model(t, classes, runs) for t in texts]
        assert native.char_profile(texts, classes, runs) == expected
    assert native.char_profile(["é", "e"], bytes(256), 1) == [None, (1, 1)]
    with pytest.raises(ValueError):
        native.char_profile(["x"], bytes([16]) * 256, 1)


def squeeze_model(text: str, table: bytes, pad: str, only: bytes | None) -> str:
    mapped = "".join(chr(table[ord(c)]) if ord(c) < 128 else c for c in text)
    out: list[str] = []
    for char in mapped:
        cut = only is None or (ord(char) < 128 and only[ord(char)])
        if out and out[-1] == char and cut:
            continue
        out.append(char)
    return pad + "".join(out) + pad


def test_squeeze_follows_its_model_on_random_tables() -> None:
    assert native is not None
    rng = random.Random(37)
    for _ in range(300):
        table = bytes(rng.choice(b"ab #") if c < 128 and rng.random() < 0.5 else c % 128
                      for c in range(256))  # fmt: skip
        only = None if rng.random() < 0.5 else random_table(rng, b"\x01", 0.5)
        texts = ["".join(rng.choice("aab  c#dd") for _ in range(rng.randint(0, 30)))
                 for _ in range(8)]  # fmt: skip
        expected = [squeeze_model(t, table, " ", only) for t in texts]
        assert native.squeeze(texts, table, " ", only) == expected
    assert native.squeeze(["ü", "aa"], bytes(range(256)), "", ascii_only=True) == [None, "a"]
    with pytest.raises(ValueError, match="ASCII to ASCII"):
        native.squeeze(["a"], bytes([200]) * 256, "")


def test_squeeze_reads_any_text_as_code_points() -> None:
    assert native is not None
    rng = random.Random(41)
    table = bytes(ord("a") if chr(c) in "aeiou" else c % 128 for c in range(256))
    only = bytes(c == ord(" ") for c in range(256))
    for _ in range(2000):
        text = "".join(rng.choice("ae  üüß😀😀\ud800x") for _ in range(rng.randint(0, 20)))
        for runs_of in (None, only):
            assert native.squeeze([text], table, " ", runs_of) == [
                squeeze_model(text, table, " ", runs_of)
            ], repr(text)


def test_unleet_matches_the_python_form_on_random_text() -> None:
    rng = random.Random(13)
    for _ in range(5000):
        skeleton.clear_caches()
        text = "".join(rng.choice("ab1 4@$!|*+k  .\x00") for _ in range(rng.randint(0, 40)))
        assert skeleton.unleet(text) == skeleton.unleet_python(text), repr(text)
    assert skeleton.unleet("f4ck ѕһіт") == skeleton.unleet_python("f4ck ѕһіт")


def test_translate_tokens_leaves_non_ascii_text_to_the_python_form() -> None:
    assert native is not None
    flags, table = skeleton._TOKEN_FLAGS, skeleton._LEET_BYTES
    assert native.translate_tokens("f4ck ѕһіт", flags, table) is NotImplemented
    with pytest.raises(ValueError, match="ASCII to ASCII"):
        native.translate_tokens("f4ck", flags, bytes([255]) * 256)


def test_observe_windows_matches_the_python_form() -> None:
    assert native is not None
    rng = random.Random(11)
    for _ in range(300):
        observations = []
        at = 0.0
        for _ in range(rng.randint(0, 60)):
            at += rng.choice((0.0, 0.5, 3.0, 11.0))
            observations.append(
                (
                    rng.choice(("k1", "k2", "k3")),
                    rng.choice(("a", "b", "c", "d")),
                    at,
                    rng.choice((5.0, 10.0)),
                    rng.random() < 0.8,
                )
            )
        compiled: tuple[dict[str, dict[str, float]], dict[str, float]] = ({}, {})
        reference: tuple[dict[str, dict[str, float]], dict[str, float]] = ({}, {})
        # two batches in a row: the second one meets the windows the first one left
        for batch in (
            observations[: len(observations) // 2],
            observations[len(observations) // 2 :],
        ):
            assert native.observe_windows(*compiled, batch) == observe_windows_python(
                *reference, batch
            )
        assert {k: list(w.items()) for k, w in compiled[0].items()} == {
            k: list(w.items()) for k, w in reference[0].items()
        }
        assert compiled[1] == reference[1]


def test_observe_windows_refuses_what_is_no_observation() -> None:
    assert native is not None
    with pytest.raises(TypeError):
        native.observe_windows({}, {}, [("k", "m", 0.0)])
    with pytest.raises(TypeError):
        native.observe_windows({}, {}, [("k", "m", "late", 1.0, True), ("k", "m", "x", 1.0, True)])


def test_health_says_the_spam_loops_are_compiled() -> None:
    from chatguard.stages.filter import FilterStage

    assert "spam loops: compiled" in FilterStage().health().detail


def test_key_scanner_matches_its_pyahocorasick_form() -> None:
    rng = random.Random(17)
    alphabet = "abc \x00é"
    for _ in range(300):
        keys = ["".join(rng.choice("abc é") for _ in range(rng.randint(1, 4))) for _ in range(6)]
        keys = [k for k in keys if k.strip()] or ["a"]
        texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(8)]
        compiled, reference = KeyScanner(keys), KeyScanner(keys, compiled=False)
        assert compiled.scan(texts) == reference.scan(texts), (keys, texts)


def test_key_scanner_compiles_its_ascii_keys() -> None:
    scanner = KeyScanner(["he", "she", "his", "hers", "straße"])
    assert scanner._native is not None and scanner._automaton is not None
    assert scanner.scan(["ushers", "", "die straße", "his"]) == {0: {0, 1, 3}, 2: {4}, 3: {2}}
    with pytest.raises(ValueError):
        KeyScanner(["a\x00b"])


def _spam_texts() -> list[str]:
    rng = random.Random(23)
    texts = [
        "FOLLOW MY CHANNEL NOW PLEASE", "LUL " * 12, "aaaaaaaaaaaaaaaaaaaaaaaa", "see www.x.xyz/a",
        "bit.ly/abc and https://spam.example/x", "@a @b @c @d @e @f", "gg", "", "   ", "12345",
        "hello world", "ÄÖÜ CAPS ÜBER ALLES", "x\x00y LUL LUL", "a.b c:// d", "Kappa\tKappa " * 6,
    ]  # fmt: skip
    pool = "aA1 .:/@-\t"
    texts += ["".join(rng.choice(pool) for _ in range(rng.randint(0, 50))) for _ in range(2000)]
    return texts


def test_the_spam_screen_from_the_kernel_matches_the_python_form() -> None:
    from chatguard.filter.detection import prepare
    from chatguard.filter.spam import SpamDetector

    detector = SpamDetector()
    items = [prepare(Message(text=t, user_id="u", channel_id="c")) for t in _spam_texts()]
    screened = detector._screens(
        [i.message.text for i in items], [i.skeleton.collapsed for i in items]
    )
    for item, screen in zip(items, screened, strict=True):
        if item.message.text.isascii():
            expected = detector.screen(item.message.text, item.skeleton.collapsed)
            assert screen == expected, repr(item.message.text)
        else:
            assert screen is None


def test_the_screened_window_plan_matches_the_unscreened_one() -> None:
    # The kernel's screen only skips checks that would find nothing: the plan is the same.
    from chatguard.domain import Role
    from chatguard.filter.detection import prepare
    from chatguard.filter.spam import SpamDetector

    rng = random.Random(29)
    texts = _spam_texts()[:400]
    users = ["u1", "u2", "ü3", "用户", "😀"]  # one, two and four bytes a character
    items = [
        prepare(
            Message(
                text=rng.choice(texts),
                user_id=rng.choice(users),
                channel_id=rng.choice(["c", "kanał"]),
                received_at=1_000 + i / 10,
                roles=frozenset({Role.MODERATOR}) if i % 31 == 0 else frozenset(),
            ),
            context={"stateless": True} if i % 17 == 0 else None,
        )
        for i in range(1500)
    ]
    screened, reference = SpamDetector(), SpamDetector()
    for offset in range(0, len(items), 300):
        batch = items[offset : offset + 300]
        assert screened._plan(batch) == reference._plan_screened(batch, [None] * len(batch))
    assert screened._checked == reference._checked


def test_skeleton_views_match_the_python_form_on_random_text() -> None:
    from chatguard.normalize import normalize

    rng = random.Random(31)
    alphabet = ["a", "b", "1", "4", " ", ".", "$", "@", "!", "|", "*", "\u3000", "\xa0", "é",
                "ß", "\x00", "_", "😀", "ѕ", "\ud800"]  # fmt: skip
    texts = [
        "f u c k",
        "f.u.c.k",
        "$ h 1 t",
        "a b",
        "x y z w",
        "é l é",
        "1 2 3 4",
        "f\u3000u\u3000c",
    ]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(4000)]
    normalized = [normalize(text) for text in texts]
    assert skeleton.skeletons(normalized) == [skeleton.skeleton(n) for n in normalized]


def test_text_ends_match_the_python_form() -> None:
    texts = ["", "a", "héllo", "😀😀", "x\x00y", ""]
    assert skeleton.text_ends(texts) == skeleton.text_ends_python(texts) == [1, 3, 9, 12, 16, 17]
    with pytest.raises(TypeError):
        skeleton.text_ends([b"bytes"])


def test_records_match_the_python_form() -> None:
    from chatguard.filter.speedups import records, records_python

    columns = (["a", "b"], [1, 2], [None, (3,)])
    made = records(skeleton.Skeleton, ([1, 2], *columns, ["x", "y"]))
    assert made == records_python(skeleton.Skeleton, ([1, 2], *columns, ["x", "y"]))
    assert type(made[0]) is skeleton.Skeleton and made[1].plain == (3,)
    with pytest.raises(ValueError):
        records(skeleton.Skeleton, ([1], [1, 2]))
    with pytest.raises(TypeError):
        records(dict, ([1],))
