"""Each adjudicator format on its own: the requests it builds and how it reads answers in the
model's documented format (safe, unsafe with categories, malformed)."""

from __future__ import annotations

import json
import math

import pytest

from chatguard.config import load_settings
from chatguard.errors import ConfigurationError
from chatguard.llm.client import Completion
from chatguard.llm.formats import FORMATS, GuardFormat, build_format
from chatguard.llm.formats.gpt_oss_safeguard import GptOssSafeguardFormat, parse_safeguard
from chatguard.llm.formats.llama_guard import (
    HAZARDS,
    LlamaGuard3Format,
    LlamaGuard4Format,
    parse_llama_guard,
)
from chatguard.llm.formats.shieldgemma import POLICIES, ShieldGemmaFormat, probability_of_yes
from chatguard.llm.parse import LLMParseError
from chatguard.taxonomy import Category

C = Category
TEXT = "you are all losers"


def test_every_format_is_registered_and_selectable() -> None:
    assert set(FORMATS) == {
        "deepseek",
        "llama-guard-3",
        "llama-guard-4",
        "shieldgemma",
        "gpt-oss-safeguard",
    }
    for name in FORMATS:
        assert build_format(name).name == name
        assert load_settings(llm_format=name, _env_file=None).llm_format == name
    with pytest.raises(ConfigurationError, match="LLM_FORMAT: unknown format 'guard'"):
        build_format("guard")
    with pytest.raises(ConfigurationError, match="LLM_FORMAT: Input should be 'deepseek'"):
        load_settings(llm_format="guard", _env_file=None)


# -- Llama Guard --------------------------------------------------------------------------


def test_llama_guard_sends_the_conversation_for_its_own_template() -> None:
    [three] = LlamaGuard3Format().requests(TEXT)
    assert three.messages == [{"role": "user", "content": TEXT}]
    assert three.temperature == 0.0 and three.max_tokens == 20
    [four] = LlamaGuard4Format().requests(TEXT)
    assert four.messages == [{"role": "user", "content": [{"type": "text", "text": TEXT}]}]


@pytest.mark.parametrize(
    ("answer", "scores"),
    [
        pytest.param("safe", {}, id="safe"),
        pytest.param("\n\nsafe", {}, id="safe-after-blank-lines"),
        pytest.param("unsafe\nS1", {C.VIOLENCE: 0.95, C.HARASSMENT_THREATENING: 0.95}, id="S1"),
        pytest.param("unsafe\nS10,S11", {C.HATE: 0.95, C.SELF_HARM: 0.95}, id="two-codes"),
        pytest.param("unsafe\nS4, S12", {C.SEXUAL_MINORS: 0.95, C.SEXUAL: 0.95}, id="spaces"),
        pytest.param("unsafe\nS13", {}, id="no-counterpart"),
    ],
)
def test_llama_guard_answers(answer: str, scores: dict[Category, float]) -> None:
    found, reason = parse_llama_guard(answer)
    assert found == scores
    assert reason.startswith("llama guard: " + answer.split()[0])


def test_llama_guard_names_the_hazards_in_its_reason() -> None:
    assert parse_llama_guard("unsafe\nS13")[1] == "llama guard: unsafe (S13 Elections)"
    assert len(HAZARDS) == 14


@pytest.mark.parametrize(
    "answer",
    ["", "unsafe", "unsafe\nS15", "unsafe\nviolence", "I cannot classify that", "Safe!"],
    ids=["empty", "no-codes", "unknown-code", "a-name", "prose", "punctuated"],
)
def test_llama_guard_malformed_answers(answer: str) -> None:
    with pytest.raises(LLMParseError):
        parse_llama_guard(answer)


def test_llama_guard_does_not_vouch_for_harassment_or_chat_categories() -> None:
    covers = LlamaGuard3Format.covers
    assert C.VIOLENCE in covers and C.HATE in covers
    assert not covers & {C.HARASSMENT, C.PROFANITY, C.SPAM, C.PII, C.PROMPT_INJECTION}


# -- ShieldGemma --------------------------------------------------------------------------


def test_shieldgemma_asks_one_policy_per_request_in_the_model_cards_prompt() -> None:
    requests = ShieldGemmaFormat().requests(TEXT)
    assert [r.label for r in requests] == list(POLICIES)
    harassment = requests[1]
    [turn] = harassment.messages
    assert turn["role"] == "user"
    content = turn["content"]
    assert content.startswith("You are a policy expert trying to help determine whether a user")
    assert f"<start_of_turn>\nHuman Question: {TEXT}\n<end_of_turn>" in content
    assert '* "No Harassment": The prompt shall not contain' in content
    assert "No Hate Speech" not in content
    assert content.endswith(
        "Your answer must start with 'Yes' or 'No'. And then walk through "
        "step by step to be sure we answer correctly."
    )
    assert harassment.extra == {"logprobs": True, "top_logprobs": 5}
    assert harassment.max_tokens == 1


def lp(**probabilities: float) -> tuple[tuple[str, float], ...]:
    return tuple((token, math.log(p)) for token, p in probabilities.items())


@pytest.mark.parametrize(
    ("completion", "p_yes"),
    [
        pytest.param(
            Completion("Yes", first_token_logprobs=lp(Yes=0.6, No=0.2)),
            0.75,
            id="logprobs-normalised",
        ),
        pytest.param(Completion("No", first_token_logprobs=lp(No=0.9)), 0.0, id="only-no-listed"),
        pytest.param(Completion("Yes"), 1.0, id="text-yes"),
        pytest.param(Completion("No, because it is banter."), 0.0, id="text-no"),
        pytest.param(Completion(" yes."), 1.0, id="text-lowercase"),
    ],
)
def test_shieldgemma_answers(completion: Completion, p_yes: float) -> None:
    assert probability_of_yes(completion) == pytest.approx(p_yes)


@pytest.mark.parametrize("text", ["", "Maybe", "The answer is yes"], ids=["empty", "maybe", "late"])
def test_shieldgemma_malformed_answers(text: str) -> None:
    with pytest.raises(LLMParseError):
        probability_of_yes(Completion(text))


def test_shieldgemma_maps_each_policy_onto_its_categories() -> None:
    fmt = ShieldGemmaFormat()
    requests = fmt.requests(TEXT)
    answers = [Completion("No"), Completion("Yes"), Completion("No"), Completion("No")]
    scores, reason = fmt.verdict(requests, answers)
    assert scores[C.HARASSMENT] == 1.0 and scores[C.HATE] == 0.0
    assert reason == "shieldgemma: No Harassment 1.00"


# -- gpt-oss-safeguard --------------------------------------------------------------------


def test_gpt_oss_safeguard_puts_the_policy_in_the_system_turn() -> None:
    [request] = GptOssSafeguardFormat().requests(TEXT, "No spoilers.")
    system, user = request.messages
    assert system["role"] == "system" and user == {"role": "user", "content": TEXT}
    policy = system["content"]
    for heading in ("INSTRUCTIONS", "DEFINITIONS", "VIOLATES (1)", "OUTPUT FORMAT"):
        assert f"## {heading}" in policy
    assert "- harassment/threatening:" in policy and "No spoilers." in policy
    assert TEXT not in policy  # the content never joins the instructions
    assert request.extra == {"reasoning_effort": "low"}


@pytest.mark.parametrize(
    ("answer", "scores"),
    [
        pytest.param(
            '{"violation": 0, "policy_category": "none", "rationale": "fine"}',
            {},
            id="no-violation",
        ),
        pytest.param("0", {}, id="bare-zero"),
        pytest.param(
            json.dumps(
                {
                    "violation": 1,
                    "policy_category": "harassment",
                    "rule_ids": ["harassment", "harassment_threatening"],
                    "confidence": "high",
                    "rationale": "a threat",
                }
            ),
            {C.HARASSMENT: 0.95, C.HARASSMENT_THREATENING: 0.95},
            id="violation-high",
        ),
        pytest.param(
            'Thinking it over {"draft": 1}\n</think>{"violation": 1, "policy_category": "spam",'
            ' "confidence": "low"}',
            {C.SPAM: 0.6},
            id="after-reasoning-low",
        ),
    ],
)
def test_gpt_oss_safeguard_answers(answer: str, scores: dict[Category, float]) -> None:
    assert parse_safeguard(answer)[0] == scores


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "1",
        '{"violation": 2}',
        '{"violation": 1, "policy_category": "none"}',
        '{"violation": 1, "policy_category": "rudeness"}',
        "I think it is fine",
    ],
    ids=["empty", "bare-one", "bad-violation", "no-category", "made-up-category", "prose"],
)
def test_gpt_oss_safeguard_malformed_answers(answer: str) -> None:
    with pytest.raises(LLMParseError):
        parse_safeguard(answer)


@pytest.mark.parametrize("name", [n for n in FORMATS if n != "deepseek"])
def test_the_channel_rules_shape_the_cache_key_only_where_the_format_reads_them(
    name: str,
) -> None:
    fmt = build_format(name)
    assert isinstance(fmt, GuardFormat)
    reads_rules = name == "gpt-oss-safeguard"
    assert (fmt.instructions_digest("No spoilers.") != fmt.instructions_digest(None)) is (
        reads_rules
    )
