"""Reading verdicts out of LLM answers: R1 reasoning, fences, prose, and answers that fail."""

from __future__ import annotations

import json

import pytest

from chatguard.llm.parse import LLMParseError, parse_answer, strip_reasoning
from chatguard.taxonomy import Category

VERDICTS = {
    "results": [
        {"id": "m1", "categories": {"harassment": 0.9}, "reason": "insult"},
        {"id": "m2", "categories": {}, "reason": "fine"},
    ]
}
CLEAN = json.dumps(VERDICTS)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(CLEAN, id="clean-json"),
        pytest.param(f"<think>\nm1 insults someone {{draft}}\n</think>\n{CLEAN}", id="think-block"),
        pytest.param(
            f"the template opened the tag {{'x': 1}}\n</think>\n\n{CLEAN}", id="think-no-open"
        ),
        pytest.param(f"<THINK>upper</THINK>{CLEAN}", id="think-uppercase"),
        pytest.param(f"```json\n{json.dumps(VERDICTS, indent=2)}\n```", id="fenced"),
        pytest.param(f"```\n{CLEAN}\n```\nDone.", id="fenced-no-language"),
        pytest.param(f"Sure! Here you go: {CLEAN} Anything else?", id="prose-around"),
        pytest.param(f'{{"results": []}} first draft, final: {CLEAN}', id="final-object-wins"),
        pytest.param(json.dumps(VERDICTS["results"]), id="bare-list"),
        pytest.param(
            json.dumps({"verdicts": [{"id": "m1", "scores": {"harassment": 90}}]}),
            id="percent-scale-and-aliases",
        ),
        pytest.param(
            json.dumps({"results": [{"id": "m1", "categories": ["harassment"]}]}),
            id="category-list",
        ),
        pytest.param(
            json.dumps({"results": [{"id": "m1", "categories": {"harassment": True}}]}),
            id="category-bools",
        ),
    ],
)
def test_answers_that_parse(answer: str) -> None:
    parsed = parse_answer(answer, ["m1", "m2"])
    assert parsed.verdicts["m1"].scores[Category.HARASSMENT] == pytest.approx(0.9, abs=0.1)
    assert parsed.verdicts.get("m2") is None or parsed.verdicts["m2"].scores == {}


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        pytest.param("I cannot help with that. {broken", "no JSON object", id="garbage"),
        pytest.param("", "empty", id="empty"),
        pytest.param("<think>still thinking when the tokens ran out", "empty", id="cut-off-think"),
        pytest.param('{"status": "ok"}', "schema", id="wrong-shape"),
        pytest.param('{"results": [{"id": "zz", "categories": {}}]}', "schema", id="unknown-ids"),
        pytest.param(
            '{"results": [{"id": "m1", "categories": {"harassment": "high"}}]}',
            "not a number",
            id="score-not-a-number",
        ),
    ],
)
def test_answers_that_fail_say_why(answer: str, problem: str) -> None:
    with pytest.raises(LLMParseError, match=problem):
        parse_answer(answer, ["m1", "m2"])


def test_a_verdict_for_one_message_may_leave_out_the_id() -> None:
    parsed = parse_answer('{"categories": {"spam": 0.8}, "reason": "ad"}', ["m7"])
    assert parsed.verdicts["m7"].scores == {Category.SPAM: 0.8}


def test_scores_are_clamped_and_made_up_categories_ignored() -> None:
    answer = json.dumps(
        {"results": [{"id": "m1", "categories": {"harassment": -3, "violence": 1.7e3, "rude": 1}}]}
    )
    scores = parse_answer(answer, ["m1"]).verdicts["m1"].scores
    assert scores == {Category.HARASSMENT: 0.0, Category.VIOLENCE: 1.0}


def test_the_parse_error_does_not_quote_the_answer() -> None:
    secret = "call me at +1 555 0100"
    with pytest.raises(LLMParseError) as caught:
        parse_answer(f"{secret} {{not json", ["m1"])
    assert secret not in str(caught.value)


def test_reasons_are_flattened_and_bounded() -> None:
    answer = json.dumps({"results": [{"id": "m1", "categories": {}, "reason": "a\n" * 500}]})
    reason = parse_answer(answer, ["m1"]).verdicts["m1"].reason
    assert "\n" not in reason and len(reason) <= 300


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("<think>a</think>b", "b", id="block"),
        pytest.param("a</think>b", "b", id="closing-only"),
        pytest.param("<think>a</think>b<think>c</think>d", "bd", id="two-blocks"),
        pytest.param("no reasoning", "no reasoning", id="none"),
    ],
)
def test_strip_reasoning(text: str, expected: str) -> None:
    assert strip_reasoning(text) == expected
