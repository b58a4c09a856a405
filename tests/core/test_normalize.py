import pytest

from chatguard.normalize import normalize


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Hello", "hello"),
        ("ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
        ("z\u200be\u200dr\u2060o", "zero"),
        ("\u202eevil\u202c", "evil\nlive"),  # the logical order, then the one shown
        ("сyrillic", "cyrillic"),  # first letter is Cyrillic es
        ("𝐦𝐚𝐭𝐡", "math"),
        ("café", "cafe"),
    ],
    ids=["ascii", "fullwidth", "zero-width", "bidi", "cyrillic", "math-bold", "accent"],
)
def test_folds_evasion_forms(text: str, folded: str) -> None:
    assert normalize(text).folded == folded


def test_spans_map_back_to_the_original_text() -> None:
    text = "you are a \u200bｉｄｉｏｔ!"
    normalized = normalize(text)
    start = normalized.folded.index("idiot")
    begin, end = normalized.original_span(start, start + len("idiot"))
    assert text[begin:end] == "ｉｄｉｏｔ"


def test_spans_in_the_displayed_order_map_back_to_the_original_text() -> None:
    text = "ok \u202eflesruoy llik\u202c!"
    normalized = normalize(text)
    start = normalized.folded.index("kill yourself")
    begin, end = normalized.original_span(start, start + len("kill yourself"))
    assert text[begin:end] == "flesruoy llik"
