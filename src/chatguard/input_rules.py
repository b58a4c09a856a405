"""What input chatguard accepts, the same for every adapter and every database.

PostgreSQL cannot store NUL (U+0000) in text, SQLite can; lone surrogates cannot be encoded at
all; control characters in ids and names forge log lines and break the tools that read them.
These rules refuse such input up front, so that SQLite and PostgreSQL answer alike and nothing a
caller sends reaches the database in a form it cannot take.

- **Identifiers and names** (message, user and channel ids, review and delivery ids, actors,
  category names, labels, reasons, stage names): no C0 control (U+0000-U+001F), no DEL
  (U+007F), no C1 control (U+0080-U+009F), no lone surrogate (U+D800-U+DFFF).
- **Message text**: no NUL and no lone surrogate. Tab, newline and the other controls are kept
  and moderated (refusing them would let a caller dodge moderation by inserting one).
- **Documents** (policy overrides): keys follow the identifier rule, string values the text
  rule, every number is finite, and nesting stops at `MAX_DEPTH`.
- **Integers** stored in INTEGER columns fit in 32 bits (PostgreSQL's INTEGER).

Each check returns the problem as a short phrase (never the input) or None.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

#: The largest value of an INTEGER column on PostgreSQL.
MAX_INT32 = 2_147_483_647
#: How deep a JSON document (a policy override) may nest.
MAX_DEPTH = 32

_NOT_IN_IDENTIFIER = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_IN_TEXT = re.compile("[\x00\ud800-\udfff]")

#: JSON Schema patterns (ECMA-262 syntax, also valid for Python's `re`) that document the rules
#: in the OpenAPI schema, so that clients and property-based tests know them.
IDENTIFIER_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"
TEXT_PATTERN = r"^[^\u0000]*$"


def identifier_problem(value: str) -> str | None:
    """Why `value` cannot be an identifier or a name, or None when it can."""
    found = _NOT_IN_IDENTIFIER.search(value)
    if found is None:
        return None
    return f"must not contain {_describe(found.group())} (at position {found.start()})"


def text_problem(value: str) -> str | None:
    """Why `value` cannot be message text, or None when it can."""
    found = _NOT_IN_TEXT.search(value)
    if found is None:
        return None
    return f"must not contain {_describe(found.group())} (at position {found.start()})"


def document_problem(document: Any) -> str | None:
    """Why a JSON document cannot be stored, or None when it can. Walks the document without
    recursion, so that a deeply nested one cannot exhaust the stack."""
    pending: list[tuple[Any, str, int]] = [(document, "", 0)]
    while pending:
        value, where, depth = pending.pop()
        if depth > MAX_DEPTH:
            return f"{where or 'document'}: nested deeper than {MAX_DEPTH} levels"
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return f"{where or 'value'}: {problem}"
        elif isinstance(value, float) and not math.isfinite(value):
            return f"{where or 'value'}: must be a finite number"
        elif isinstance(value, Mapping):
            for key, item in value.items():
                key_text = str(key)
                problem = identifier_problem(key_text)
                if problem:
                    return f"{where or 'document'}: a key {problem}"
                pending.append((item, _join(where, key_text), depth + 1))
        elif isinstance(value, list | tuple):
            pending.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))
    return None


def _join(where: str, key: str) -> str:
    # Keys are shown only when short and printable; the others are described, not echoed.
    shown = key if len(key) <= 40 and key.isprintable() else "<key>"
    return f"{where}.{shown}" if where else shown


def _describe(char: str) -> str:
    code = ord(char)
    if code == 0:
        return "NUL (U+0000)"
    if 0xD800 <= code <= 0xDFFF:
        return f"an unpaired surrogate (U+{code:04X})"
    return f"a control character (U+{code:04X})"
