"""Replacing a provisional decision with the final one, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from chatguard.domain import Action, Assessment, Decision, Message, Route
from chatguard.storage import SqlStore
from chatguard.taxonomy import Category

PG_URL = os.environ.get("CHATGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.3).close()
        return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    if request.param == "sqlite":
        store = SqlStore(f"sqlite+aiosqlite:///{tmp_path}/final.db")
        await store.start()
        yield store
        await store.close()
        return
    if not _pg_up():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    import asyncpg

    name = f"chatguard_llm_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0].split("://", 1)[1]
    store = SqlStore(f"postgresql+asyncpg://{base}/{name}")
    try:
        await store.start()
        yield store
    finally:
        await store.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def _decision(message: Message, action: Action, *, provisional: bool) -> Decision:
    assessment = Assessment(
        message_id=message.id,
        scores={Category.HARASSMENT: 0.95 if action is Action.DELETE else 0.5},
        route=Route.ACT if action is Action.DELETE else Route.UNCERTAIN,
        decided_by="llm" if not provisional else "rules",
        pending=("llm",) if provisional else (),
    )
    return Decision(message.id, action, "test", assessment, provisional=provisional)


async def test_the_final_decision_replaces_the_provisional_one(store: SqlStore) -> None:
    message = Message(text="you idiot", user_id="u1", channel_id="c1")
    await store.save([(message, _decision(message, Action.HOLD, provisional=True))])
    final = _decision(message, Action.DELETE, provisional=False)
    assert await store.replace_provisional(message, final) is True
    stored = await store.get(message.id)
    assert stored is not None
    assert stored.response["action"] == "delete" and stored.response["provisional"] is False
    assert stored.response["decided_by"] == "llm" and stored.response["pending"] == []


async def test_a_final_decision_is_never_replaced(store: SqlStore) -> None:
    message = Message(text="gg", user_id="u1", channel_id="c1")
    final = _decision(message, Action.ALLOW, provisional=False)
    await store.save([(message, final)])
    later = replace(final, action=Action.DELETE)
    assert await store.replace_provisional(message, later) is False
    stored = await store.get(message.id)
    assert stored is not None and stored.response["action"] == "allow"


async def test_an_unknown_message_is_not_replaced(store: SqlStore) -> None:
    message = Message(text="gg", user_id="u1", channel_id="c1")
    assert (
        await store.replace_provisional(
            message, _decision(message, Action.ALLOW, provisional=False)
        )
        is False
    )
