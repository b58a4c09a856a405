"""Field types of the HTTP API that carry chatguard's input rules (`chatguard.input_rules`):
what a database or a log cannot take is a 422 here, the same on SQLite and PostgreSQL.

Body fields are strict (`true` is not a number, `"5"` is not an integer) and floats are finite
(Python's JSON parser accepts `NaN` and `Infinity`). Path and query parameters arrive as text,
so their integer types convert but keep the column's range.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictFloat, StrictInt, StrictStr

from chatguard.input_rules import (
    IDENTIFIER_PATTERN,
    MAX_INT32,
    TEXT_PATTERN,
    document_problem,
    identifier_problem,
    text_problem,
)
from chatguard.taxonomy import Category


def _identifier(value: str) -> str:
    problem = identifier_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _whole_number(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer; booleans and strings are not numbers here.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _document(value: dict[str, Any]) -> dict[str, Any]:
    problem = document_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# The pattern is documented, not enforced by pydantic's regex engine: the validator gives the
# clearer message and also catches lone surrogates, which a JSON Schema pattern cannot name.
_NAME: dict[str, Any] = {"pattern": IDENTIFIER_PATTERN}
_TEXT: dict[str, Any] = {"pattern": TEXT_PATTERN}
_CHECKED = AfterValidator(_identifier)

#: Message, user and channel ids: 1 to 128 characters, no control characters.
Identifier = Annotated[
    StrictStr, Field(min_length=1, max_length=128, json_schema_extra=_NAME), _CHECKED
]
#: A filter on an id in a query: like `Identifier`, but empty matches nothing instead of failing.
IdFilter = Annotated[StrictStr, Field(max_length=128, json_schema_extra=_NAME), _CHECKED]
#: Ids chatguard makes itself (review items, webhook deliveries: 32 hex digits).
ShortId = Annotated[
    StrictStr, Field(min_length=1, max_length=32, json_schema_extra=_NAME), _CHECKED
]
#: Who did something (a moderator's name, a service's name).
ActorName = Identifier
#: A short machine name: a stage, a category.
Name = Annotated[StrictStr, Field(min_length=1, max_length=64, json_schema_extra=_NAME), _CHECKED]
#: A category's name (the taxonomy's; `_` or `-` may stand for `/`, as in OpenAI's SDK).
CategoryName = Annotated[
    StrictStr,
    Field(
        min_length=1,
        max_length=64,
        json_schema_extra={"enum": [c.value for c in Category]},
    ),
    _CHECKED,
]
#: A span's label (may be empty).
Label = Annotated[StrictStr, Field(max_length=128, json_schema_extra=_NAME), _CHECKED]
#: A model's name.
ModelName = Identifier
#: Why a moderator did something: one line, no control characters.
Reason = Annotated[StrictStr, Field(max_length=1000, json_schema_extra=_NAME), _CHECKED]

#: Chat message text: anything encodable except NUL; tab and newline are text.
MessageText = Annotated[StrictStr, Field(json_schema_extra=_TEXT), AfterValidator(_text)]

#: A JSON object stored as is (a policy override): no NUL, no lone surrogates, finite numbers.
Document = Annotated[dict[str, Any], AfterValidator(_document)]

#: A finite number in a body; booleans are refused.
Number = Annotated[StrictFloat, Field(allow_inf_nan=False)]
#: A score or probability in [0, 1].
Score = Annotated[StrictFloat, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
#: A Unix time in seconds, not before 1970.
Timestamp = Annotated[StrictFloat, Field(ge=0.0, allow_inf_nan=False)]
#: A count or offset that fits an INTEGER column; booleans and strings are refused.
Count = Annotated[StrictInt, Field(ge=0, le=MAX_INT32), BeforeValidator(_whole_number)]
#: A duration in seconds that fits an INTEGER column.
Seconds = Annotated[StrictInt, Field(ge=1, le=MAX_INT32), BeforeValidator(_whole_number)]

#: A row number in a path or query (audit ids, version numbers): 1 to 2**31 - 1.
RowNumber = Annotated[int, Field(ge=1, le=MAX_INT32)]
