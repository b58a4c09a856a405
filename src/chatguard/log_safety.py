"""Logging that a caller's input cannot forge or fill with private data.

- `install_log_escaping()` makes every log record escape control characters (CR, LF, the other
  C0 and C1 controls, DEL, U+2028/U+2029) and lone surrogates in its message and arguments: an
  id such as `"u\\r\\nINFO admin logged in"` stays on one line as `u\\r\\nINFO ...`. It works at
  record creation, so every handler (files, stderr, test capture) gets the escaped record.
- `describe_exception()` names an exception chain by types and code locations, without the
  exceptions' messages, which may quote input.
"""

from __future__ import annotations

import logging
import re
import traceback
from pathlib import PurePath
from typing import Any

_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r"}
#: Arguments formatted as numbers keep their type, so `%d` and `%.2f` still work.
_KEEP = (int, float, type(None))
_PACKAGE = f"{PurePath(__file__).parent.name}/"


def escape_controls(text: str) -> str:
    """`text` with control characters and lone surrogates written as escapes (tab is kept)."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _safe_arg(value: Any) -> Any:
    if isinstance(value, _KEEP):
        return value
    text = value if isinstance(value, str) else str(value)
    escaped = escape_controls(text)
    # Objects without anything to escape are left as they are (their %r stays theirs).
    return value if escaped is text and not isinstance(value, str) else escaped


class _EscapingFactory:
    """A log record factory that escapes what the previous factory made."""

    def __init__(self, previous: Any) -> None:
        self.previous = previous

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.previous(*args, **kwargs)
        escape_record(record)
        return record


def escape_record(record: logging.LogRecord) -> None:
    """Escape `record`'s message and arguments in place."""
    if isinstance(record.msg, str):
        record.msg = escape_controls(record.msg)
    if isinstance(record.args, dict):
        record.args = {key: _safe_arg(value) for key, value in record.args.items()}
    elif record.args:
        record.args = tuple(_safe_arg(value) for value in record.args)


def install_log_escaping() -> None:
    """Escape control characters in every log record from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _EscapingFactory):
        logging.setLogRecordFactory(_EscapingFactory(current))


def uninstall_log_escaping() -> None:
    """Undo `install_log_escaping` (for tests)."""
    current = logging.getLogRecordFactory()
    if isinstance(current, _EscapingFactory):
        logging.setLogRecordFactory(current.previous)


def describe_exception(exc: BaseException, *, frames: int = 4) -> str:
    """`exc` and its causes as `module.Type at file:line in function`, innermost frames
    last, without the exceptions' messages."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 8:
        seen.add(id(current))
        kind = type(current)
        stack = traceback.extract_tb(current.__traceback__)
        # chatguard's own frames say where it happened; the last one says what failed.
        own = [f for f in stack[:-1] if f"{_PACKAGE}" in f.filename][-(frames - 1) :]
        where = ", ".join(
            f"{PurePath(f.filename).name}:{f.lineno} in {f.name}" for f in [*own, *stack[-1:]]
        )
        parts.append(f"{kind.__module__}.{kind.__qualname__}" + (f" at {where}" if where else ""))
        current = current.__cause__ or current.__context__
    return "; caused by ".join(parts)
