"""Shared fixtures: settings on a temporary SQLite file, a fresh PostgreSQL database, and a live
server on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from chatguard.config import Settings, load_settings
from tests.support.private_pg import PrivatePostgres

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("CHATGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CHATGUARD_TEST_REDIS", "redis://127.0.0.1:6379/15")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'chatguard.db'}"


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return load_settings(database_url=sqlite_url, _env_file=None)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of its own on the local Redis; its keys are deleted afterwards."""
    if not port_answers(6379):
        pytest.skip("Redis does not answer on 127.0.0.1:6379")
    from redis import asyncio as aioredis

    prefix = f"chatguard-test:{uuid.uuid4().hex}:"
    yield prefix
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own on the local PostgreSQL, dropped at the end of the session."""
    if not port_answers(5432):
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    import asyncpg

    name = f"chatguard_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL

    async def run(sql: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"postgresql+asyncpg://{base.split('://', 1)[1]}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[str]:
    """Each storage test runs against SQLite and against the real PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_url
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    asyncio.run(_drop_all(url))


async def _drop_all(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        await connection.exec_driver_sql("CREATE SCHEMA public")
    await engine.dispose()


class LiveServer:
    """A real uvicorn server in a background thread, listening on `host` (reached through
    127.0.0.1 either way; bind "0.0.0.0" to serve as a non-loopback address does)."""

    def __init__(self, app: object, port: int, *, host: str = "127.0.0.1") -> None:
        import uvicorn

        self.port = port
        self.host = host
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    from chatguard.api import create_app

    with LiveServer(create_app(settings), free_port()) as server:
        yield server


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[object]:
    """An httpx client talking to the app in-process, with its lifespan running."""
    import httpx

    from chatguard.api import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chatguard") as c:
            yield c


@pytest.fixture
def api_headers() -> dict[str, str]:
    """Headers every API request of the API-wide tests carries: the servers' admin key."""
    from tests.api.conftest import ADMIN_KEY

    return {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the test's own on a free port, which the test may stop and
    start (never the shared one); removed afterwards."""
    if not PrivatePostgres.available():
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed")
    server = PrivatePostgres(free_port()).init()
    try:
        server.start()
        yield server
    finally:
        server.remove()
