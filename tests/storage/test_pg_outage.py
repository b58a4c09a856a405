"""A PostgreSQL outage under load: a live server on a private PostgreSQL, a few clients sending
a steady stream, the database stopped for 10 s and started again. Every request gets an HTTP
answer and none is a 5xx; every accepted message is stored after the recovery, with its
strike and audit entry once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from chatguard.api import create_app
from chatguard.config import load_settings
from tests.conftest import LiveServer, free_port
from tests.support.effects import read_ledger
from tests.support.private_pg import PrivatePostgres

BEFORE_S, DOWN_S, AFTER_S, CLIENTS = 4.0, 10.0, 4.0, 4
TEXTS = ("good game", "kys you idiot", "nice play", "fuck you loser")


@pytest.mark.slow
async def test_an_outage_costs_no_answer_and_no_message(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    settings = load_settings(
        database_url=private_postgres.url,
        spool_path=str(tmp_path / "spool.sqlite3"),
        pipeline_stages="filter",
        _env_file=None,
    )
    statuses: Counter[int] = Counter()
    dropped = 0
    accepted: dict[str, str] = {}
    health_during: list[dict[str, object]] = []
    started = time.monotonic()
    end = started + BEFORE_S + DOWN_S + AFTER_S

    with LiveServer(create_app(settings), free_port()) as server:

        async def client(n: int) -> None:
            nonlocal dropped
            i = 0
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                while time.monotonic() < end:
                    # Every fifth request repeats the client's previous message (a retry).
                    k = i - 1 if i % 5 == 4 else i
                    body = {
                        "message": f"{TEXTS[k % len(TEXTS)]} {n}-{k}",
                        "user_id": f"viewer-{k % 3}",
                        "channel_id": f"chan-{n}",
                        "message_id": f"outage-{n}-{k}",
                    }
                    i += 1
                    try:
                        response = await http.post("/moderate", json=body)
                    except httpx.HTTPError:
                        dropped += 1
                        continue
                    statuses[response.status_code] += 1
                    if response.status_code == 200:
                        accepted[body["message_id"]] = response.json()["action"]
                    await asyncio.sleep(0.01)

        async def outage() -> None:
            await asyncio.sleep(BEFORE_S)
            await asyncio.to_thread(private_postgres.stop)
            await asyncio.sleep(DOWN_S / 2)
            async with httpx.AsyncClient(base_url=server.url) as http:
                health_during.append((await http.get("/health")).json())
            await asyncio.sleep(DOWN_S / 2)
            await asyncio.to_thread(private_postgres.start)

        await asyncio.gather(outage(), *(client(n) for n in range(CLIENTS)))
        # Wait for the spool to reach the database.
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(base_url=server.url) as http:
            while True:
                detail = (await http.get("/health")).json()["components"]["database"]["detail"]
                if "spooled" not in detail:
                    break
                assert time.monotonic() < deadline, detail
                await asyncio.sleep(0.2)
            metrics = (await http.get("/metrics")).text

    assert dropped == 0 and set(statuses) == {200}, (dropped, statuses)
    assert sum(statuses.values()) > 200  # a steady load, also while the database was down
    [health] = health_during
    assert health["status"] == "degraded"
    database = health["components"]["database"]  # type: ignore[index]
    assert database["ok"] is False and "postgresql unreachable" in database["detail"]
    spooled = [line for line in metrics.splitlines() if 'outcome="spooled"' in line]
    assert spooled and float(spooled[0].split()[-1]) > 0
    ledger = await read_ledger(private_postgres.url)
    assert ledger.messages == len(accepted)
    assert {i: ledger.actions[i] for i in accepted} == accepted
    ledger.check_exactly_once()
