"""Llama Guard 3 and Llama Guard 4 (Meta): the MLCommons hazard categories S1-S14.

The model's own chat template (applied by the server, vLLM or llama.cpp) writes Llama Guard's
task prompt with its category list around the conversation, so a request is the conversation
alone: the chat message as the user turn. The answer is `safe`, or `unsafe` and on the next
line the violated categories, comma-separated (`unsafe\\nS1,S10`). Llama Guard 4 takes the
turn's content as a list of parts (text, and images it is also trained on); Llama Guard 3 as a
string.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chatguard.llm.client import Completion
from chatguard.llm.formats.base import GuardFormat, GuardRequest
from chatguard.llm.parse import LLMParseError, strip_reasoning
from chatguard.taxonomy import Category

#: The hazard categories, as both models' cards list them.
HAZARDS: dict[str, str] = {
    "S1": "Violent Crimes",
    "S2": "Non-Violent Crimes",
    "S3": "Sex-Related Crimes",
    "S4": "Child Sexual Exploitation",
    "S5": "Defamation",
    "S6": "Specialized Advice",
    "S7": "Privacy",
    "S8": "Intellectual Property",
    "S9": "Indiscriminate Weapons",
    "S10": "Hate",
    "S11": "Suicide & Self-Harm",
    "S12": "Sexual Content",
    "S13": "Elections",
    "S14": "Code Interpreter Abuse",
}
#: Onto chatguard's taxonomy. S6 (specialized advice), S8 (intellectual property), S13
#: (elections) and S14 (code interpreter abuse) have no counterpart and are reported in the
#: reason only.
MAPPING: dict[str, tuple[Category, ...]] = {
    "S1": (Category.VIOLENCE, Category.HARASSMENT_THREATENING),
    "S2": (Category.ILLICIT,),
    "S3": (Category.SEXUAL,),
    "S4": (Category.SEXUAL_MINORS,),
    "S5": (Category.HARASSMENT,),
    "S7": (Category.PII,),
    "S9": (Category.ILLICIT_VIOLENT,),
    "S10": (Category.HATE,),
    "S11": (Category.SELF_HARM,),
    "S12": (Category.SEXUAL,),
}
#: The score of a category the model names: its answer is a label, not a probability.
UNSAFE_SCORE = 0.95
_CODE = re.compile(r"^S\d{1,2}$")


class LlamaGuard3Format(GuardFormat):
    name = "llama-guard-3"
    # What a "safe" answer vouches for. Harassment is judged only as defamation (S5), privacy
    # (S7) is narrower than chatguard's pii, graphic depiction is no crime; insults,
    # profanity, spam and prompt injection are outside the hazard taxonomy. For all of
    # these the model may raise a score (S5 raises harassment) but the fast tier's stands.
    covers = frozenset(
        {
            Category.VIOLENCE,
            Category.HARASSMENT_THREATENING,
            Category.ILLICIT,
            Category.ILLICIT_VIOLENT,
            Category.SEXUAL,
            Category.SEXUAL_MINORS,
            Category.HATE,
            Category.HATE_THREATENING,
            Category.SELF_HARM,
            Category.SELF_HARM_INTENT,
            Category.SELF_HARM_INSTRUCTIONS,
        }
    )

    def requests(self, text: str, rules: str | None = None) -> list[GuardRequest]:
        return [GuardRequest([{"role": "user", "content": self._content(text)}], max_tokens=20)]

    def _content(self, text: str) -> str | list[dict[str, str]]:
        return text

    def verdict(
        self, requests: Sequence[GuardRequest], answers: Sequence[Completion]
    ) -> tuple[dict[Category, float], str]:
        return parse_llama_guard(answers[0].text)


class LlamaGuard4Format(LlamaGuard3Format):
    name = "llama-guard-4"

    def _content(self, text: str) -> str | list[dict[str, str]]:
        return [{"type": "text", "text": text}]


def parse_llama_guard(answer: str) -> tuple[dict[Category, float], str]:
    """Scores from `safe` or `unsafe\\nS1,S10`."""
    lines = [line.strip() for line in strip_reasoning(answer).splitlines() if line.strip()]
    if not lines:
        raise LLMParseError("the answer is empty")
    first = lines[0].lower()
    if first == "safe":
        return {}, "llama guard: safe"
    if first != "unsafe":
        raise LLMParseError("the answer starts with neither 'safe' nor 'unsafe'")
    codes = [c.strip().upper() for c in (lines[1] if len(lines) > 1 else "").split(",")]
    codes = [c for c in codes if c]
    if not codes or not all(_CODE.match(c) and c in HAZARDS for c in codes):
        raise LLMParseError("an 'unsafe' answer without a valid list of categories")
    scores: dict[Category, float] = {}
    for code in codes:
        for category in MAPPING.get(code, ()):
            scores[category] = UNSAFE_SCORE
    named = ", ".join(f"{c} {HAZARDS[c]}" for c in codes)
    return scores, f"llama guard: unsafe ({named})"
