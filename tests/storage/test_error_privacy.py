"""A failing write never puts the message text in an error, a traceback or a log: not as a
bound parameter (SQLite and PostgreSQL), not in PostgreSQL's DETAIL line ("Failing row
contains ..."), not in asyncpg's quote of an argument it cannot encode."""

from __future__ import annotations

import asyncio
import logging
import traceback
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from chatguard.api import create_app
from chatguard.config import load_settings
from chatguard.domain import Message
from chatguard.service import ModerationService
from chatguard.storage.privacy import private_engine, scrubbed
from tests.conftest import LiveServer, free_port


def private_text() -> str:
    return f"my phone is 555 0199, private-{uuid.uuid4().hex}"


async def refuse_message_rows(url: str) -> None:
    """Make every INSERT into `messages` fail, the way each database reports it."""
    engine = private_engine(url)
    async with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            await connection.exec_driver_sql(
                "CREATE TRIGGER refuse_messages BEFORE INSERT ON messages "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:  # PostgreSQL answers with the whole row in DETAIL
            await connection.exec_driver_sql(
                "ALTER TABLE messages ADD CONSTRAINT refuse_messages CHECK (length(text) < 0)"
            )
    await engine.dispose()


async def test_a_failing_insert_keeps_the_text_out_of_the_exception(database_url: str) -> None:
    secret = private_text()
    settings = load_settings(database_url=database_url, pipeline_stages="rules", _env_file=None)
    service = ModerationService.from_settings(settings)
    await service.start()
    try:
        await refuse_message_rows(database_url)
        with pytest.raises(DBAPIError) as failed:
            await service.moderate(Message(text=secret, user_id="u", channel_id="c"))
        shown = "".join(traceback.format_exception(failed.value))
        assert "messages" in shown  # the statement is still there for the operator
        assert secret not in shown
        assert "private-" not in shown
    finally:
        await service.close()


def test_a_failing_insert_behind_the_api_is_a_500_without_the_text(
    database_url: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = private_text()
    settings = load_settings(database_url=database_url, pipeline_stages="rules", _env_file=None)
    with LiveServer(create_app(settings), free_port()) as server:
        asyncio.run(refuse_message_rows(database_url))
        response = httpx.post(
            f"{server.url}/moderate",
            json={"message": secret, "user_id": "u", "channel_id": "c"},
            timeout=30,
        )
        assert response.status_code == 500
        assert response.json() == {"error": {"type": "internal_error", "message": "internal error"}}
        # The server goes on serving.
        assert httpx.get(f"{server.url}/policies/presets", timeout=30).status_code == 200
    out, err = capfd.readouterr()
    assert "internal error in POST /moderate" in caplog.text
    for captured in (caplog.text, out, err):
        assert secret not in captured
        assert "private-" not in captured


async def test_an_argument_postgresql_cannot_encode_is_not_quoted(postgres_url: str) -> None:
    secret = private_text()
    engine = private_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as failed:
                await connection.execute(text("SELECT CAST(:v AS integer)"), {"v": secret})
    finally:
        await engine.dispose()
    shown = "".join(traceback.format_exception(failed.value))
    assert "invalid input for query argument $1: <value hidden>" in shown
    assert "private-" not in shown


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(
            'new row violates check constraint "c"\nDETAIL:  Failing row contains (m1, secret).',
            'new row violates check constraint "c"',
            id="detail",
        ),
        pytest.param(
            "invalid input for query argument $3: 'secret text' (expected str, got int)",
            "invalid input for query argument $3: <value hidden> (expected str, got int)",
            id="argument",
        ),
        pytest.param("NOT NULL constraint failed: messages.text", None, id="sqlite-unchanged"),
    ],
)
def test_scrubbed_messages(message: str, expected: str | None) -> None:
    assert scrubbed(message) == (expected if expected is not None else message)
