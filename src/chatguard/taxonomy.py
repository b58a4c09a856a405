"""The moderation taxonomy: OpenAI's thirteen categories plus four chat categories.

`flagged` follows OpenAI's meaning (any of the thirteen); the chat categories are scored and
reported separately and acted on by channel policy.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    HARASSMENT = "harassment"
    HARASSMENT_THREATENING = "harassment/threatening"
    HATE = "hate"
    HATE_THREATENING = "hate/threatening"
    ILLICIT = "illicit"
    ILLICIT_VIOLENT = "illicit/violent"
    SELF_HARM = "self-harm"
    SELF_HARM_INTENT = "self-harm/intent"
    SELF_HARM_INSTRUCTIONS = "self-harm/instructions"
    SEXUAL = "sexual"
    SEXUAL_MINORS = "sexual/minors"
    VIOLENCE = "violence"
    VIOLENCE_GRAPHIC = "violence/graphic"
    PROFANITY = "profanity"
    SPAM = "spam"
    PII = "pii"
    PROMPT_INJECTION = "prompt_injection"

    @property
    def is_openai(self) -> bool:
        return self in OPENAI_CATEGORIES


OPENAI_CATEGORIES: tuple[Category, ...] = tuple(Category)[:13]
CHAT_CATEGORIES: tuple[Category, ...] = tuple(Category)[13:]
ALL_CATEGORIES: tuple[Category, ...] = tuple(Category)

DEFINITIONS: dict[Category, str] = {
    Category.HARASSMENT: "Content that expresses, incites, or promotes harassing language towards any target.",
    Category.HARASSMENT_THREATENING: "Harassment that also includes violence or serious harm towards any target.",
    Category.HATE: (
        "Content that expresses, incites, or promotes hate based on race, gender, ethnicity, religion, "
        "nationality, sexual orientation, disability status, or caste."
    ),
    Category.HATE_THREATENING: "Hateful content that also includes violence or serious harm towards the targeted group.",
    Category.ILLICIT: "Content that gives advice or instruction on how to commit illicit acts.",
    Category.ILLICIT_VIOLENT: "Illicit content that also includes references to violence or procuring a weapon.",
    Category.SELF_HARM: "Content that promotes, encourages, or depicts acts of self-harm, such as suicide, cutting, and eating disorders.",
    Category.SELF_HARM_INTENT: "Content where the speaker expresses that they are engaging or intend to engage in acts of self-harm.",
    Category.SELF_HARM_INSTRUCTIONS: "Content that encourages performing acts of self-harm, or gives instructions or advice on how to commit them.",
    Category.SEXUAL: "Content meant to arouse sexual excitement, or that promotes sexual services (excluding sex education and wellness).",
    Category.SEXUAL_MINORS: "Sexual content that includes an individual who is under 18 years old.",
    Category.VIOLENCE: "Content that depicts death, violence, or physical injury.",
    Category.VIOLENCE_GRAPHIC: "Content that depicts death, violence, or physical injury in graphic detail.",
    Category.PROFANITY: "Swearing, obscenities and vulgar language not aimed at harming anyone.",
    Category.SPAM: "Unsolicited promotion, link spam, repeated or flooding messages, raids.",
    Category.PII: "Personal data such as emails, phone numbers, card numbers, IBANs, addresses or ID numbers.",
    Category.PROMPT_INJECTION: "Text that tries to instruct or manipulate the moderation model itself.",
}


class UnknownCategoryError(ValueError):
    """A category name that is not part of the taxonomy."""


def parse_category(name: str) -> Category:
    """Return the category for `name`, accepting `_` or `-` in place of `/` (OpenAI's SDK style)."""
    try:
        return Category(name)
    except ValueError:
        pass
    for category in Category:
        if category.value.replace("/", "_").replace("-", "_") == name.replace("/", "_").replace(
            "-", "_"
        ):
            return category
    raise UnknownCategoryError(
        f"unknown category {name!r}; known: {', '.join(c.value for c in Category)}"
    )
