"""A live server per database (SQLite, then PostgreSQL) shared by a test module, for tests that
send many requests and must see the same answers on both."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from chatguard.api import create_app
from chatguard.config import Settings, load_settings
from tests.conftest import LiveServer, _drop_all, free_port

#: The bootstrap admin key of these servers: every operation is reachable, and an operation that
#: ignored its key would show (a request without it must get 401).
ADMIN_KEY = "cg-test-admin-" + "k" * 32


def app_settings(database_url: str) -> Settings:
    """The filter alone (fast, deterministic) and webhooks pointing at a port nobody listens
    on, so that every route, the dead-letter ones included, is live."""
    return load_settings(
        database_url=database_url,
        pipeline_stages="filter",
        webhook_urls=f"http://127.0.0.1:{free_port()}/hook",
        webhook_secret="s" * 32,
        admin_api_key=ADMIN_KEY,
        _env_file=None,
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The app on a real uvicorn server, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('api') / 'chatguard.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    with LiveServer(create_app(app_settings(url)), free_port()) as server:
        yield server
    if request.param == "postgresql":
        asyncio.run(_drop_all(url))
