"""`chatguard serve --workers 2`: two API processes on one port, both serving and storing into
one SQLite file (WAL, busy timeout), the schema migrated once before they start."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import free_port

CHATGUARD = str(Path(sys.executable).with_name("chatguard"))


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def stored(url: str) -> int:
    async def count() -> int:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return int(await connection.scalar(text("SELECT count(*) FROM messages")) or 0)
        finally:
            await engine.dispose()

    return asyncio.run(count())


async def send(base: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        # Each request on a connection of its own, so both workers get some.
        return await asyncio.gather(
            *(
                client.post(
                    "/moderate",
                    json={
                        "message": f"hello chat {i}",
                        "user_id": f"u{i}",
                        "channel_id": "lobby",
                        "message_id": f"w-{i}",
                    },
                    headers={"Connection": "close"},
                )
                for i in range(count)
            )
        )


def test_two_workers_serve_and_store(tmp_path: Path) -> None:
    port = free_port()
    url = f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}"
    env = {**os.environ, "DATABASE_URL": url, "RATE_LIMIT_USER_PER_S": "0"}
    process = subprocess.Popen(
        [CHATGUARD, "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise AssertionError("no worker answered /health")
        # Both workers up: uvicorn's supervisor has two worker processes.
        while time.monotonic() < deadline and len(children(process.pid)) < 2:
            time.sleep(0.2)
        assert len(children(process.pid)) >= 2
        responses = asyncio.run(send(base, 60))
        assert [r.status_code for r in responses] == [200] * 60
        replay = asyncio.run(send(base, 5))  # the same ids again: the stored answers
        assert [r.json()["message_id"] for r in replay] == [f"w-{i}" for i in range(5)]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert "with 2 workers" in output
    assert stored(url) == 60


def test_auto_workers_one_per_core_only_when_redis_holds_the_shared_state() -> None:
    from chatguard.cli.serve import _workers, auto_workers
    from chatguard.config import load_settings

    alone = load_settings(_env_file=None)
    assert auto_workers(alone, 4)[0] == 1
    assert "REDIS_URL" in auto_workers(alone, 4)[1]
    redis = "redis://127.0.0.1:6379/9"
    partly = load_settings(redis_url=redis, _env_file=None)
    assert auto_workers(partly, 4) == (
        1,
        "1 worker: without EVENT_BUS=redis, SPAM_STATE=redis the workers would not share state",
    )
    shared = load_settings(redis_url=redis, event_bus="redis", spam_state="redis", _env_file=None)
    assert auto_workers(shared, 4) == (4, "4 workers, one per core")
    assert _workers("auto") == "auto" and _workers("3") == 3


def test_auto_workers_without_redis_serves_one_process(tmp_path: Path) -> None:
    port = free_port()
    url = f"sqlite+aiosqlite:///{tmp_path / 'auto.db'}"
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [CHATGUARD, "serve", "--port", str(port), "--workers", "auto"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        body = {"message": "hello", "user_id": "u", "channel_id": "c"}
        answer = httpx.post(f"http://127.0.0.1:{port}/moderate", json=body, timeout=30)
        assert answer.status_code == 200
    finally:
        server.send_signal(signal.SIGINT)
        _, errors = server.communicate(timeout=60)
    assert "--workers auto: 1 worker: without REDIS_URL" in errors
