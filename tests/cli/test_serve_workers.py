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
