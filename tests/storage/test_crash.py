"""A real `chatguard serve` killed with SIGKILL in the middle of a stream of 5,000 messages, then
started again while the client sends everything once more: every message is stored once, its
strike and audit entry exist once, and every answer given before the kill is given again
(on a SQLite file and on PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.support.effects import read_ledger

TOTAL, BATCH, CLIENTS, KILL_AFTER = 5000, 50, 4, 2000
TEXTS = ("good game everyone", "kys you idiot", "what a play", "you are trash, uninstall")


def messages() -> list[dict[str, str]]:
    return [
        {
            "message": f"{TEXTS[i % len(TEXTS)]} {i}",
            "user_id": f"viewer-{i % 7}",
            "channel_id": f"chan-{i % 3}",
            "message_id": f"crash-{i}",
        }
        for i in range(TOTAL)
    ]


class Server:
    def __init__(self, workdir: Path, database_url: str) -> None:
        self.workdir = workdir
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SPOOL_PATH": str(workdir / "spool.sqlite3"),
            "PIPELINE_STAGES": "filter",
            "LOG_LEVEL": "WARNING",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chatguard", "serve", "--port", str(port)],
            env=self.env,
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


async def send_all(
    url: str,
    batches: list[list[dict[str, str]]],
    answers: dict[str, dict[str, Any]],
    *,
    kill: Any = None,
) -> int:
    """Send the batches from CLIENTS concurrent clients; returns how many requests failed
    (the server went away)."""
    queue: asyncio.Queue[list[dict[str, str]]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)
    failed = 0

    async def client() -> None:
        nonlocal failed
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            while not queue.empty():
                batch = queue.get_nowait()
                try:
                    response = await http.post("/moderate/batch", json={"messages": batch})
                except httpx.HTTPError:
                    failed += 1
                    continue
                assert response.status_code == 200, response.text
                for result in response.json()["results"]:
                    answers[result["message_id"]] = result
                if kill is not None and len(answers) >= KILL_AFTER:
                    kill()

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return failed


@pytest.mark.slow
async def test_kill_9_mid_stream_then_resending_everything(
    tmp_path: Path, database_url: str
) -> None:
    stream = messages()
    batches = [stream[i : i + BATCH] for i in range(0, TOTAL, BATCH)]
    server = Server(tmp_path, database_url)
    server.start()
    before: dict[str, dict[str, Any]] = {}
    try:
        failed = await send_all(server.url, batches, before, kill=server.kill)
    finally:
        server.kill()
    assert failed > 0 and KILL_AFTER <= len(before) < TOTAL  # killed mid-stream

    server.start()
    after: dict[str, dict[str, Any]] = {}
    try:
        assert await send_all(server.url, batches, after) == 0
    finally:
        server.stop()
    assert len(after) == TOTAL
    for message_id, answer in before.items():
        again = after[message_id]
        assert (again["message_id"], again["action"], again["reason"]) == (
            answer["message_id"],
            answer["action"],
            answer["reason"],
        )
    ledger = await read_ledger(database_url)
    assert ledger.messages == TOTAL
    ledger.check_exactly_once()
    assert sum(ledger.strikes.values()) > 100  # the ladder was climbed on the way
    for message_id, answer in after.items():
        assert ledger.actions[message_id] == answer["action"]
