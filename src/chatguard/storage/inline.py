"""The store's async database code run on a synchronous SQLAlchemy session.

The aiosqlite driver hands every call (execute, fetch, commit, cursor close) to its own thread
and back: a small transaction costs tens of thread hops, each a wait for the GIL while the
event loop is busy. For a SQLite file the store instead runs a whole group's transaction on
the plain `sqlite3` driver without leaving the loop's thread (`sqlite_local.py`). The statements
are the same ones the PostgreSQL path awaits: `InlineSession` gives a synchronous session the
awaitable methods they use, and `run_inline` drives such a coroutine, which never suspends, to
its end.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


class InlineSession:
    """The awaitable `AsyncSession` methods the store and the effects writer use, done at once
    on a synchronous `Session`."""

    def __init__(self, session: Session) -> None:
        self.sync_session = session

    def get_bind(self) -> Any:
        return self.sync_session.get_bind()

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.execute(*args, **kwargs)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.scalars(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.scalar(*args, **kwargs)

    async def flush(self) -> None:
        self.sync_session.flush()


class SuspendedError(RuntimeError):
    """A coroutine run inline waited on something: it was not pure database code."""


def run_inline(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (its awaits are `InlineSession` calls) to its end."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coroutine.close()
    raise SuspendedError("a coroutine run inline suspended")
