"""PII redaction: the decision carries the redacted text and the store keeps only that."""

from __future__ import annotations

import httpx
import pytest

from chatguard.api import create_app
from chatguard.config import Settings

TEXT = "mail me at jane.doe@example.com or call +1 415 555 0132"


async def moderate(settings: Settings, **body: str) -> tuple[dict[str, object], str]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            response = await client.post(
                "/moderate",
                json={"message": TEXT, "user_id": "u", "channel_id": "c", **body},
            )
            assert response.status_code == 200
        store = app.state.service.store
        async with store.engine.connect() as connection:
            stored = (
                await connection.exec_driver_sql("SELECT text FROM messages WHERE id = 'pii-1'")
            ).scalar_one()
    return response.json(), stored


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("label", "mail me at [EMAIL_ADDRESS] or call [PHONE_NUMBER]"),
        ("mask", "mail me at " + "*" * 20 + " or call " + "*" * 15),
    ],
    ids=["label", "mask"],
)
async def test_redaction_replaces_pii_in_answer_and_store(
    settings: Settings, mode: str, expected: str
) -> None:
    body, stored = await moderate(
        settings.model_copy(update={"pii_redaction": mode}), message_id="pii-1"
    )
    assert body["redacted_text"] == expected
    assert stored == expected
    assert body["category_scores"]["pii"] > 0.5


async def test_without_redaction_the_text_is_kept(settings: Settings) -> None:
    body, stored = await moderate(settings, message_id="pii-1")
    assert body["redacted_text"] is None
    assert stored == TEXT
