"""Fixtures of the access tests: keys of every scope in a fresh database, and apps on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chatguard.api import create_app
from chatguard.config import Settings, load_settings


def app_settings(database_url: str, **overrides: Any) -> Settings:
    # The rule stage alone starts fast and scores the same every time.
    fields: dict[str, Any] = {"pipeline_stages": "rules", "_env_file": None}
    return load_settings(database_url=database_url, **(fields | overrides))


async def asgi_client(
    settings: Settings,
    *,
    client: tuple[str, int] = ("127.0.0.1", 50000),
    headers: dict[str, str] | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1:8000", headers=headers
        ) as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


@pytest.fixture
def message() -> dict[str, str]:
    return {"message": "hello chat", "user_id": "viewer", "channel_id": "lobby"}
