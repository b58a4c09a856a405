"""The JSON of `/moderate` and `/moderate/batch` answers, written straight from the service's
plain-data answers.

FastAPI would validate each answer into a `ModerateResponse` and serialise that model: on a
batch of 500 that is 500 model instances built only to be written out again. The answers are
the service's own dicts, already of the declared types, so this module puts them in the form
the model gives them (its declared fields first, in order, with their defaults and the
`acted` of answers stored before it existed; every other key after them, as stored) and writes
that with the serialiser the model uses (pydantic-core's), so the bytes are the same. An
answer that is not of the declared types (which the service does not make) is handed back to
FastAPI unchanged, to be validated and answered exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic_core import to_json
from starlette.responses import Response

from chatguard.api.schemas import ModerateResponse
from chatguard.domain import Action


def _is_str(value: object) -> bool:
    return type(value) is str


def _is_bool(value: object) -> bool:
    return type(value) is bool


def _is_float(value: object) -> bool:
    return type(value) is float


def _is_optional_str(value: object) -> bool:
    return value is None or type(value) is str


_STR = {str}
_BOOL = {bool}
_FLOAT = {float}


def _is_flags(value: object) -> bool:
    return (
        type(value) is dict
        and set(map(type, value)) <= _STR
        and set(map(type, value.values())) <= _BOOL
    )


def _is_scores(value: object) -> bool:
    return (
        type(value) is dict
        and set(map(type, value)) <= _STR
        and set(map(type, value.values())) <= _FLOAT
    )


def _is_strings(value: object) -> bool:
    return type(value) is list and set(map(type, value)) <= _STR


#: What each declared field of `ModerateResponse` holds when validation would keep the value
#: as it is (a float field given an int would be converted, so an int is not taken here).
_CHECKS: dict[str, Callable[[object], bool]] = {
    "message_id": _is_str,
    "action": _is_str,
    "approved": _is_bool,
    "acted": _is_bool,
    "policy_reason": _is_str,
    "policy_category": _is_optional_str,
    "notice": _is_optional_str,
    "reason": _is_str,
    "flagged": _is_bool,
    "categories": _is_flags,
    "category_scores": _is_scores,
    "decided_by": _is_str,
    "reasons": _is_strings,
    "processing_time_ms": _is_float,
}
#: The declared fields in the model's order, each with its check and its default (`_REQUIRED`
#: when it has none).
_REQUIRED = object()
_FIELDS = tuple(
    (
        name,
        _CHECKS[name],
        _REQUIRED if info.is_required() else info.get_default(call_default_factory=True),
    )
    for name, info in ModerateResponse.model_fields.items()
)
assert set(_CHECKS) == set(ModerateResponse.model_fields), "a declared field has no check"
_ALLOW = Action.ALLOW.value


def answer_form(answer: dict[str, Any]) -> dict[str, Any] | None:
    """`answer` in the form `ModerateResponse` gives it, or None when validation might change
    a value (then the model must do it)."""
    if type(answer) is not dict:
        return None
    if "acted" not in answer and "action" in answer:  # the model's `_acted`
        answer = {**answer, "acted": answer["action"] != _ALLOW}
    form: dict[str, Any] = {}
    for name, check, default in _FIELDS:
        if name in answer:
            value = answer[name]
            if not check(value):
                return None
        elif default is _REQUIRED:
            return None
        else:
            value = default
        form[name] = value
    if len(form) < len(answer):
        for key, value in answer.items():
            if key not in form:
                form[key] = value
    return form


def _json_response(content: Any) -> Response:
    # The model's serialiser settings: non-finite floats are written as null.
    return Response(to_json(content, inf_nan_mode="null"), media_type="application/json")


def moderate_answer(answer: dict[str, Any]) -> Response | dict[str, Any]:
    """The response of `POST /moderate`: the JSON written here, or the answer itself for
    FastAPI to validate."""
    form = answer_form(answer)
    return answer if form is None else _json_response(form)


def batch_answer(answers: Sequence[dict[str, Any]]) -> Response | dict[str, Any]:
    """The response of `POST /moderate/batch`, the same way."""
    forms = []
    for answer in answers:
        form = answer_form(answer)
        if form is None:
            return {"results": list(answers)}
        forms.append(form)
    return _json_response({"results": forms})
