"""JSON forms of what crosses a stage boundary: a `StageInput` (the message, its normalized
text, the scores and results so far) and a `StageResult`, and the finished `Assessment`. A
stage running in another process (a filter or LLM worker) receives and returns these.

A stage input's `context` holds process-local handles (the channel memory) next to plain
flags; only the plain values (text, numbers, booleans, null) travel, and the receiving side
attaches its own handles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from chatguard.domain import Assessment, Message, StageResult
from chatguard.errors import EventFormatError
from chatguard.normalize import NormalizedText
from chatguard.pipeline.stage import StageInput
from chatguard.taxonomy import Category

Plain = str | int | float | bool | None


class StageInputForm(BaseModel):
    """The JSON form of a `StageInput`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message: Message
    normalized: NormalizedText
    scores: dict[Category, float] = Field(default_factory=dict)
    results: tuple[StageResult, ...] = ()
    context: dict[str, Plain] = Field(default_factory=dict)


_RESULT: TypeAdapter[StageResult] = TypeAdapter(StageResult)
_ASSESSMENT: TypeAdapter[Assessment] = TypeAdapter(Assessment)


def plain_context(context: Mapping[str, Any]) -> dict[str, Plain]:
    """The entries of a stage context that can travel: plain JSON scalars."""
    return {
        k: v for k, v in context.items() if v is None or isinstance(v, str | int | float | bool)
    }


def stage_input_json(item: StageInput) -> str:
    form = StageInputForm(
        message=item.message,
        normalized=item.normalized,
        scores=dict(item.scores),
        results=item.results,
        context=plain_context(item.context),
    )
    return form.model_dump_json()


def stage_input_from_json(raw: str | bytes) -> StageInput:
    form = _validated(StageInputForm.model_validate_json, raw, "stage input")
    return StageInput(
        message=form.message,
        normalized=form.normalized,
        scores=form.scores,
        results=form.results,
        context=form.context,
    )


def stage_result_json(result: StageResult) -> str:
    return _RESULT.dump_json(result).decode()


def stage_result_from_json(raw: str | bytes) -> StageResult:
    result: StageResult = _validated(_RESULT.validate_json, raw, "stage result")
    return result


def assessment_json(assessment: Assessment) -> str:
    return _ASSESSMENT.dump_json(assessment).decode()


def assessment_from_json(raw: str | bytes) -> Assessment:
    assessment: Assessment = _validated(_ASSESSMENT.validate_json, raw, "assessment")
    return assessment


def _validated(read: Any, raw: str | bytes, what: str) -> Any:
    try:
        return read(raw)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise EventFormatError(f"a {what} is a JSON object; this is not JSON") from None
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise EventFormatError(f"invalid {what}: {', '.join(fields[:5])}") from None


def schema_of_stage_forms() -> dict[str, Any]:
    """JSON Schemas of the stage forms, for the published schema file."""
    return {
        "StageInput": StageInputForm.model_json_schema(),
        "StageResult": _RESULT.json_schema(),
        "Assessment": _ASSESSMENT.json_schema(),
    }


__all__ = [
    "StageInputForm",
    "assessment_from_json",
    "assessment_json",
    "plain_context",
    "stage_input_from_json",
    "stage_input_json",
    "stage_result_from_json",
    "stage_result_json",
]
