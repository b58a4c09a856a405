import pytest

from chatguard.taxonomy import (
    ALL_CATEGORIES,
    CHAT_CATEGORIES,
    OPENAI_CATEGORIES,
    Category,
    UnknownCategoryError,
    parse_category,
)

OPENAI_NAMES = [
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
]


def test_taxonomy_is_openais_thirteen_plus_four_chat_categories() -> None:
    assert [c.value for c in OPENAI_CATEGORIES] == OPENAI_NAMES
    assert [c.value for c in CHAT_CATEGORIES] == ["profanity", "spam", "pii", "prompt_injection"]
    assert len(ALL_CATEGORIES) == 17


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("hate/threatening", Category.HATE_THREATENING),
        ("hate_threatening", Category.HATE_THREATENING),
        ("self_harm_intent", Category.SELF_HARM_INTENT),
        ("prompt_injection", Category.PROMPT_INJECTION),
    ],
    ids=["slash", "sdk-underscore", "dash-underscore", "chat"],
)
def test_parse_category_accepts_sdk_spellings(name: str, expected: Category) -> None:
    assert parse_category(name) is expected


def test_unknown_category_names_the_known_ones() -> None:
    with pytest.raises(UnknownCategoryError, match="harassment"):
        parse_category("rudeness")
