"""Stage inputs, stage results and assessments serialise to JSON and back."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatguard.channel import CHANNEL_CONTEXT, ChannelMemory
from chatguard.domain import Assessment, Message, StageResult
from chatguard.errors import EventFormatError
from chatguard.events.stages import (
    assessment_from_json,
    assessment_json,
    stage_input_from_json,
    stage_input_json,
    stage_result_from_json,
    stage_result_json,
)
from chatguard.normalize import normalize
from chatguard.pipeline.stage import StageInput
from tests.events.strategies import assessments, messages, scores, stage_results

FORMS = settings(max_examples=60, deadline=None)


@FORMS
@given(stage_results)
def test_stage_results_round_trip(result: StageResult) -> None:
    assert stage_result_from_json(stage_result_json(result)) == result


@FORMS
@given(assessments)
def test_assessments_round_trip(assessment: Assessment) -> None:
    again = assessment_from_json(assessment_json(assessment))
    assert again == assessment
    assert again.flagged == assessment.flagged


@FORMS
@given(messages, scores, st.lists(stage_results, max_size=3))
def test_stage_inputs_round_trip(
    message: Message, so_far: dict[object, float], results: list[StageResult]
) -> None:
    item = StageInput(
        message=message,
        normalized=normalize(message.text),
        scores=so_far,
        results=tuple(results),
        context={"stateless": True},
    )
    assert stage_input_from_json(stage_input_json(item)) == item


def test_bidi_text_keeps_its_offset_map() -> None:
    text = "\u202eflesruoy llik"  # shown as "kill yourself"
    item = StageInput(
        message=Message(text=text, user_id="u", channel_id="c"), normalized=normalize(text)
    )
    again = stage_input_from_json(stage_input_json(item))
    assert again.normalized == item.normalized
    assert "kill yourself" in again.normalized.folded
    assert again.normalized.original_span(0, 4) == item.normalized.original_span(0, 4)


def test_process_local_context_stays_behind() -> None:
    item = StageInput(
        message=Message(text="hi", user_id="u", channel_id="c"),
        normalized=normalize("hi"),
        context={CHANNEL_CONTEXT: ChannelMemory(history=3), "stateless": True},
    )
    data = json.loads(stage_input_json(item))
    assert data["context"] == {"stateless": True}


@pytest.mark.parametrize(
    "raw", [pytest.param("not json", id="text"), pytest.param('{"stage": 3}', id="invalid")]
)
def test_unreadable_forms_raise_a_named_error(raw: str) -> None:
    with pytest.raises(EventFormatError):
        stage_result_from_json(raw)
