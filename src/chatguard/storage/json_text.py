"""The JSON text of the store's JSON columns.

Every stored decision carries JSON values (the answer, the scores, the trail); written through
the standard library's encoder they were about a tenth of a batch's CPU. pydantic-core's
encoder (a dependency already, through pydantic) writes the same values six times faster. The
text differs only in form (no spaces, non-ASCII characters as UTF-8 rather than escapes), so
what is read back is the same. Text the UTF-8 encoder refuses (a lone surrogate in a chat
message) and values it cannot write go through the standard library's encoder, which escapes
the one and refuses the other, as before.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import PydanticSerializationError, to_json


def dumps(value: Any) -> str:
    """`value` as JSON text (non-finite floats as `NaN` and `Infinity`, as `json.dumps`)."""
    try:
        return to_json(value, inf_nan_mode="constants").decode()
    except PydanticSerializationError:
        return json.dumps(value)
