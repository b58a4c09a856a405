"""The store against SQLite and the real PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from chatguard.config import load_settings
from chatguard.domain import Message
from chatguard.errors import ConflictError
from chatguard.service import ModerationService
from chatguard.storage import SqlStore


async def make_service(url: str) -> ModerationService:
    service = ModerationService.from_settings(load_settings(_env_file=None, database_url=url))
    await service.start()
    return service


async def test_every_message_assessment_and_decision_is_stored(database_url: str) -> None:
    service = await make_service(database_url)
    try:
        await service.moderate_batch(
            [Message(text=t, user_id="u", channel_id="c") for t in ("hi", "kys", "gg")]
        )
        assert service.store is not None
        for table in ("messages", "assessments", "decisions"):
            assert await service.store.count(table) == 3
    finally:
        await service.close()


async def test_repeated_id_is_idempotent(database_url: str) -> None:
    service = await make_service(database_url)
    try:
        message = Message(text="kys", user_id="u", channel_id="c", id="fixed-1")
        first = await service.moderate(message)
        second = await service.moderate(message)
        assert second.replayed and not first.replayed
        assert second.response == first.response
        assert service.store is not None
        assert await service.store.count("messages") == 1
        with pytest.raises(ConflictError):
            await service.moderate(Message(text="other", user_id="u", channel_id="c", id="fixed-1"))
    finally:
        await service.close()


async def test_concurrent_duplicates_store_one_row_and_agree(database_url: str) -> None:
    service = await make_service(database_url)
    try:
        message = Message(text="hello there", user_id="u", channel_id="c", id="race-1")
        outcomes = await asyncio.gather(*(service.moderate(message) for _ in range(8)))
        assert len({o.response["action"] for o in outcomes}) == 1
        assert len({o.response["message_id"] for o in outcomes}) == 1
        assert service.store is not None
        assert await service.store.count("decisions") == 1
    finally:
        await service.close()


async def test_migrations_are_repeatable(database_url: str) -> None:
    store = SqlStore(database_url)
    await store.start()
    await store.start()  # a second start finds the schema current
    assert await store.ping()
    await store.close()


async def test_stored_text_is_what_the_user_wrote(database_url: str) -> None:
    service = await make_service(database_url)
    try:
        text = "ｈｅｌｌｏ \u200b wörld 🎮"
        await service.moderate(Message(text=text, user_id="u", channel_id="c", id="uni-1"))
        assert service.store is not None
        async with service.store.engine.connect() as connection:
            stored = (
                await connection.exec_driver_sql("SELECT text FROM messages WHERE id = 'uni-1'")
            ).scalar_one()
        assert stored == text
    finally:
        await service.close()
