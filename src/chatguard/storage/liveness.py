"""Pooled PostgreSQL connections tested before use, but only those that sat idle.

SQLAlchemy's `pool_pre_ping` tests every connection at every checkout; on asyncpg a test is
three round trips (a transaction begun, `;`, rolled back), paid by every session: under load
that was a tenth of the decision role's CPU and a millisecond of its latency, for connections
that had been used a few milliseconds before. Here a connection is tested only when it has
been idle in the pool for longer than `idle_s`: one a restarted server has closed is found
before it is handed out, as with `pool_pre_ping`. A connection broken while in use fails its
statement as a disconnect; SQLAlchemy then invalidates every connection the pool held from
before, and the caller sees the database as away (the store spools, the request is retried),
which is what the pre-ping would have given it a moment later anyway.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine

#: Seconds a pooled connection may sit unused and still be handed out without a test.
IDLE_S = 1.0
_CHECKED_IN = "chatguard_checked_in_at"


def ping_when_idle(engine: AsyncEngine, *, idle_s: float = IDLE_S) -> None:
    """Test `engine`'s connections at checkout when they were idle over `idle_s` (a new
    connection is not tested: it was just made)."""
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since <= idle_s:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool drops this connection and checks out another (a fresh one).
            raise DisconnectionError(
                f"a pooled connection failed its test ({type(exc).__name__})"
            ) from exc

    event.listen(pool, "checkin", checked_in)
    event.listen(pool, "checkout", checked_out)
