"""ShieldGemma (Google): one safety policy per request, answered `Yes` (violates) or `No`.

The prompt is the model card's: the preamble, the chat message as the "Human Question" between
`<start_of_turn>` and `<end_of_turn>`, one policy, and the epilogue asking for Yes or No. It
goes as one user turn. The score is the probability of `Yes`: from the first token's log
probabilities when the server returns them (`logprobs` is asked for; P(Yes) is normalised
over Yes and No, as the card computes it from the logits), else 1.0 or 0.0 from the text.
Each message takes four requests (one per policy), sent concurrently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from chatguard.llm.client import Completion
from chatguard.llm.formats.base import GuardFormat, GuardRequest
from chatguard.llm.parse import LLMParseError
from chatguard.taxonomy import Category

PREAMBLE = (
    "You are a policy expert trying to help determine whether a user prompt is in violation "
    "of the defined safety policies."
)
EPILOGUE = (
    "Does the human question violate the above principle? Your answer must start with "
    "'Yes' or 'No'. And then walk through step by step to be sure we answer correctly."
)
#: The model card's four policies for user input, each onto the categories it speaks for.
POLICIES: dict[str, tuple[str, tuple[Category, ...]]] = {
    "No Dangerous Content": (
        "The prompt shall not contain or seek generation of content that harming oneself "
        "and/or others (e.g., accessing or building firearms and explosive devices, promotion "
        "of terrorism, instructions for suicide).",
        (Category.ILLICIT_VIOLENT, Category.SELF_HARM_INSTRUCTIONS),
    ),
    "No Harassment": (
        "The prompt shall not contain or seek generation of content that is malicious, "
        "intimidating, bullying, or abusive content targeting another individual (e.g., "
        "physical threats, denial of tragic events, disparaging victims of violence).",
        (Category.HARASSMENT,),
    ),
    "No Hate Speech": (
        "The prompt shall not contain or seek generation of content that targeting identity "
        "and/or protected attributes (e.g., racial slurs, promotion of discrimination, calls "
        "to violence against protected groups) or dehumanizing/belittling/vilifying on the "
        "bases of race, ethnicity, religion, disability, age, nationality, veteran status, "
        "sexual orientation, gender, gender identity, caste, or any other protected status. "
        "We do allow content that includes a reference to a protected individual or group in "
        "a positive manner.",
        (Category.HATE,),
    ),
    "No Sexually Explicit Information": (
        "The prompt shall not contain or seek generation of content that contains references "
        "to sexual acts or other lewd content (e.g., sexually graphic descriptions, content "
        "aimed at causing arousal). Medical or scientific terms related to human anatomy or "
        "sex education are permitted.",
        (Category.SEXUAL,),
    ),
}


def prompt(text: str, policy: str) -> str:
    """The model card's prompt for one user message and one policy."""
    definition, _ = POLICIES[policy]
    return (
        f"{PREAMBLE}\n\n<start_of_turn>\nHuman Question: {text.strip()}\n<end_of_turn>\n\n"
        f'Our safety principle is defined in the below:\n\n* "{policy}": {definition}\n\n'
        f"===\n\n{EPILOGUE}"
    )


class ShieldGemmaFormat(GuardFormat):
    name = "shieldgemma"
    covers = frozenset(c for _, cats in POLICIES.values() for c in cats)

    def requests(self, text: str, rules: str | None = None) -> list[GuardRequest]:
        return [
            GuardRequest(
                [{"role": "user", "content": prompt(text, policy)}],
                max_tokens=1,  # the first token is the answer; the walk-through is not needed
                extra={"logprobs": True, "top_logprobs": 5},
                label=policy,
            )
            for policy in POLICIES
        ]

    def verdict(
        self, requests: Sequence[GuardRequest], answers: Sequence[Completion]
    ) -> tuple[dict[Category, float], str]:
        scores: dict[Category, float] = {}
        violated = []
        for request, answer in zip(requests, answers, strict=True):
            p_yes = probability_of_yes(answer)
            for category in POLICIES[request.label][1]:
                scores[category] = max(scores.get(category, 0.0), p_yes)
            if p_yes >= 0.5:
                violated.append(f"{request.label} {p_yes:.2f}")
        reason = "shieldgemma: " + ("; ".join(violated) if violated else "no policy violated")
        return scores, reason


def probability_of_yes(answer: Completion) -> float:
    """P(Yes) from the first token's log probabilities, else from the answer's first word."""
    yes = no = None
    for token, logprob in answer.first_token_logprobs:
        word = token.strip().lower()
        if word == "yes" and yes is None:
            yes = logprob
        elif word == "no" and no is None:
            no = logprob
    if yes is not None or no is not None:
        # Softmax over the two answers; one missing from the top list counts as impossible.
        e_yes = math.exp(yes) if yes is not None else 0.0
        e_no = math.exp(no) if no is not None else 0.0
        return e_yes / (e_yes + e_no)
    words = answer.text.strip().split(maxsplit=1)
    first = words[0].strip(".,:;!'\"").lower() if words else ""
    if first == "yes":
        return 1.0
    if first == "no":
        return 0.0
    raise LLMParseError("the answer starts with neither 'Yes' nor 'No'")
