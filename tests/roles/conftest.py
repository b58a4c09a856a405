"""Fixtures for the role tests: settings on a SQLite file of each role's own, a role's app on a
live server, an app in process with its lifespan running, and the fake LLM server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatguard.api.roles import create_role_app
from chatguard.config import Settings, load_settings
from tests.conftest import LiveServer, free_port
from tests.support.fake_llm import FakeLLMServer

SettingsFactory = Callable[..., Settings]
RoleServer = Callable[[str, Settings], LiveServer]


@pytest.fixture
def role_settings(tmp_path: Path) -> SettingsFactory:
    """Settings with a database file per call (each role has its own here)."""
    made = 0

    def make(**overrides: Any) -> Settings:
        nonlocal made
        made += 1
        options: dict[str, Any] = {
            "database_url": f"sqlite+aiosqlite:///{tmp_path / f'role-{made}.db'}",
            "_env_file": None,
        }
        options.update(overrides)
        return load_settings(**options)

    return make


@pytest.fixture
def serve_role() -> Iterator[RoleServer]:
    """Start a role's app on a live server on a free port; stopped after the test."""
    with contextlib.ExitStack() as stack:

        def start(role: str, settings: Settings) -> LiveServer:
            return stack.enter_context(LiveServer(create_role_app(role, settings), free_port()))

        yield start


@contextlib.asynccontextmanager
async def in_process(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` in process (a loopback caller), with the app's lifespan running."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chatguard") as client:
            yield client


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()
