"""Database engines whose errors hold no stored values.

A failing statement's exception would otherwise carry what was being written into every log and
traceback that shows it: SQLAlchemy prints the bound parameters, PostgreSQL adds a DETAIL line
("Failing row contains (...)", the whole row with the message text), and asyncpg quotes the
argument it could not encode; aiosqlite logs every call's arguments at DEBUG. `private_engine`
hides the parameters, strips the DETAIL and the quote from the exception chain before anything
sees it, and keeps aiosqlite's logger above DEBUG. The statement, the error's primary message,
its SQLSTATE and the constraint's name stay: that is what an operator needs.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from chatguard.storage import json_text

#: asyncpg's "could not encode this argument" message quotes the value (its repr).
_ARGUMENT = re.compile(r"(invalid input for query argument \$\d+): .*", re.DOTALL)
_DETAIL = "\nDETAIL:"
#: How far along `__cause__` / `__context__` to look (the chain is short: 2 to 4 links).
_CHAIN_LIMIT = 8


def private_engine(url: str, **options: Any) -> AsyncEngine:
    """`create_async_engine` with parameters hidden and error details stripped."""
    # aiosqlite logs every call with its arguments (the INSERT's text among them) at DEBUG:
    # LOG_LEVEL=DEBUG must not turn that on.
    quiet = logging.getLogger("aiosqlite")
    quiet.setLevel(max(quiet.level, logging.INFO))
    engine = create_async_engine(
        url, hide_parameters=True, json_serializer=json_text.dumps, **options
    )
    event.listen(engine.sync_engine, "handle_error", scrub_error)
    return engine


def scrub_error(context: ExceptionContext) -> None:
    """Strip stored values from the exceptions of a failed statement, in place (the caller's
    `except IntegrityError` and friends see the same classes as before)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [
        context.sqlalchemy_exception,
        context.original_exception,
    ]
    while pending and len(seen) < _CHAIN_LIMIT * 2:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        _scrub_one(exc)
        pending.extend((exc.__cause__, exc.__context__))


def scrubbed(message: str) -> str:
    """`message` without a PostgreSQL DETAIL part and without an argument's quoted value."""
    head = message.split(_DETAIL, 1)[0]
    return _ARGUMENT.sub(lambda m: _argument_problem(m.group(0), m.group(1)), head)


def _scrub_one(exc: BaseException) -> None:
    if getattr(exc, "detail", None):
        # asyncpg's exceptions render `detail` in their str(); PostgreSQL puts the row there.
        with contextlib.suppress(AttributeError):
            exc.detail = None  # type: ignore[attr-defined]
    if exc.args and isinstance(exc.args[0], str):
        cleaned = scrubbed(exc.args[0])
        if cleaned != exc.args[0]:
            exc.args = (cleaned, *exc.args[1:])


def _argument_problem(whole: str, head: str) -> str:
    # "... $1: 'the value' (reason)" -> "... $1: <value hidden> (reason)": the reason after the
    # last " (" says what is wrong (a range, a type) without the value.
    _, sep, reason = whole.rpartition(" (")
    return f"{head}: <value hidden>" + (f" ({reason}" if sep else "")
