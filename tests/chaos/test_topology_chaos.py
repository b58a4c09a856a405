"""Chaos through `chatguard up`: every role a process, on a PostgreSQL and a Redis of the test's
own (started on free ports, never the machine's shared ones), an LLM stand-in behind the
llm-worker. Each test sends 10,000 messages as a chat platform's client would (batches from
several connections, a failed request sent again with the same message ids, some answered
batches sent twice) and, a third of the way in, breaks one part: kill -9 of the filter role,
kill -9 of the llm-worker, a Redis restart, PostgreSQL stopped for 10 s. Afterwards every
accepted message has exactly one final stored decision, and each strike and audit entry
exists once."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import free_port
from tests.support.effects import read_ledger
from tests.support.fake_llm import FakeLLMServer
from tests.support.private_pg import PrivatePostgres
from tests.support.private_redis import PrivateRedis
from tests.support.up import READY, Up, chatguard_up

pytestmark = [pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

MESSAGES = 10_000
CHUNK = 100
CLIENTS = 8
BREAK_AT = MESSAGES // 3
#: A client gives a chunk up after this long without an answer it can use.
PATIENCE_S = 90.0
ROLES = ["filter", "llm-worker", "decision", "api"]
#: What live chat sends: mostly ordinary lines (real Twitch chat), some abuse the fast tier
#: acts on (with a strike), some it leaves to the LLM (the stand-in calls "loser" and "idiot"
#: harassment), a little spam.
ORDINARY = [
    json.loads(line)["text"]
    for line in (FIXTURES / "data" / "twitch_chat.jsonl").read_text().splitlines()
    if line.strip()
]
ABUSE = ["kys you idiot", "kill yourself loser", "you fucking idiot kys"]
UNCERTAIN = [
    f"{opening} {word} {closing}".strip()
    for word in ("loser", "idiot")
    for opening, closing in (
        ("what a", "play lol"),
        ("that was a", "move"),
        ("the", "strat again"),
        ("", "energy in chat"),
        ("is that", "or what"),
        ("a", "round"),
    )
]
SPAM = ["FREE FOLLOWERS at spam-bot dot example"]
MIX = ((ORDINARY, 80), (ABUSE, 8), (UNCERTAIN, 7), (SPAM, 5))


@dataclass
class Topology:
    up: Up
    postgres: PrivatePostgres
    redis: PrivateRedis
    llm: FakeLLMServer

    @property
    def api(self) -> str:
        return self.up.url("api")


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    if not PrivatePostgres.available() or not PrivateRedis.available():
        pytest.skip("initdb/pg_ctl or redis-server are not installed")
    root = tmp_path_factory.mktemp("chaos")
    postgres = PrivatePostgres(free_port()).init()
    redis = PrivateRedis(port=free_port(), directory=root)
    llm = FakeLLMServer(latency_s=0.05).start()
    try:
        postgres.start()
        redis.start()
        env = {
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            "EVENT_BUS": "redis",
            "ROLE_TRANSPORT": "redis",
            "SPAM_STATE": "redis",
            "LLM_ENDPOINT": llm.url,
            "LLM_CONTROL": "false",
            "LLM_CACHE_SIZE": "0",
            "LLM_DEADLINE_MS": "300",
            "LLM_TIMEOUT": "3",
            "REQUEST_TIMEOUT": "3",
            "LOG_LEVEL": "WARNING",
        }
        with chatguard_up(ROLES, env, root) as up:
            up.wait_for(READY, timeout_s=240)
            yield Topology(up, postgres, redis, llm)
    finally:
        llm.stop()
        redis.stop()
        postgres.remove()


@dataclass
class Sent:
    """What the clients saw: the answer per accepted message id, and what failed on the way."""

    answers: dict[str, dict[str, object]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    resent: int = 0
    llm_calls_before: int = 0
    given_up: list[str] = field(default_factory=list)

    def failed(self, what: str) -> None:
        self.failures[what] = self.failures.get(what, 0) + 1


def _messages(run: str) -> list[dict[str, object]]:
    rng = random.Random(run)
    pools = [pool for pool, _ in MIX]
    weights = [weight for _, weight in MIX]
    return [
        {
            "message": rng.choice(rng.choices(pools, weights)[0]),
            "user_id": f"viewer{rng.randrange(5000)}",
            "channel_id": f"chan{rng.randrange(50)}",
            "message_id": f"{run}-{i}",
        }
        for i in range(MESSAGES)
    ]


async def _send(api: str, run: str, on_break: Callable[[], None]) -> Sent:
    """Send the run's messages; call `on_break` (in a thread) once a third is accepted."""
    sent = Sent()
    chunks = [_messages(run)[i : i + CHUNK] for i in range(0, MESSAGES, CHUNK)]
    queue: asyncio.Queue[list[dict[str, object]]] = asyncio.Queue()
    for chunk in chunks:
        queue.put_nowait(chunk)
    broken: threading.Thread | None = None
    rng = random.Random(f"{run}-resend")

    async def post(client: httpx.AsyncClient, chunk: list[dict[str, object]]) -> bool:
        try:
            answer = await client.post(f"{api}/moderate/batch", json={"messages": chunk})
        except httpx.HTTPError as exc:
            sent.failed(type(exc).__name__)
            await asyncio.sleep(0.2)
            return False
        if answer.status_code != 200:
            sent.failed(str(answer.status_code))
            await asyncio.sleep(min(float(answer.headers.get("retry-after", "0.2")), 2.0))
            return False
        for result in answer.json()["results"]:
            sent.answers[str(result["message_id"])] = result
        return True

    async def client_loop() -> None:
        nonlocal broken
        async with httpx.AsyncClient(timeout=30) as client:
            while not queue.empty():
                chunk = queue.get_nowait()
                patience = time.monotonic() + PATIENCE_S
                while not await post(client, chunk):
                    if time.monotonic() > patience:
                        sent.given_up += [str(m["message_id"]) for m in chunk]
                        break
                else:
                    if rng.random() < 0.05:  # an answer the client did not see: sent again
                        sent.resent += 1
                        await post(client, chunk)
                if broken is None and len(sent.answers) >= BREAK_AT:
                    broken = threading.Thread(target=on_break, daemon=True)
                    broken.start()
        return None

    await asyncio.gather(*(client_loop() for _ in range(CLIENTS)))
    assert broken is not None, "the run ended before the break"
    await asyncio.to_thread(broken.join, 60)
    return sent


async def _settled(url: str, run: str, timeout_s: float = 120.0) -> tuple[int, int]:
    """Wait until the run's stored decisions stop changing and none is provisional; return
    (stored, provisional)."""
    engine = create_async_engine(url)
    deadline = time.monotonic() + timeout_s
    last = (-1, -1)
    try:
        while True:
            try:
                async with engine.connect() as c:
                    row = (
                        await c.execute(
                            text(
                                "SELECT COUNT(*), COUNT(*) FILTER (WHERE provisional) "
                                "FROM decisions WHERE message_id LIKE :run"
                            ),
                            {"run": f"{run}-%"},
                        )
                    ).one()
                now = (int(row[0]), int(row[1]))
            except OSError:
                now = (-1, -1)
            if (now == last and now[1] == 0) or time.monotonic() > deadline:
                return now
            last = now
            await asyncio.sleep(2.0)
    finally:
        await engine.dispose()


async def _spools_empty(topology: Topology, timeout_s: float = 60.0) -> dict[str, float]:
    """Wait until no role holds a spooled decision or effect; return each role's depth."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            depths = {}
            for role in ("api", "decision"):
                metrics = (await client.get(f"{topology.up.url(role)}/metrics")).text
                depths[role] = sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in metrics.splitlines()
                    if line.startswith("chatguard_spool_depth")
                )
            if not any(depths.values()) or time.monotonic() > deadline:
                return depths
            await asyncio.sleep(1.0)


async def _check(topology: Topology, run: str, sent: Sent) -> None:
    assert not sent.given_up, (len(sent.given_up), sent.failures)
    assert len(sent.answers) == MESSAGES, (len(sent.answers), sent.failures)
    stored, provisional = await _settled(topology.postgres.url, run)
    depths = await _spools_empty(topology)
    assert not any(depths.values()), depths
    assert provisional == 0
    assert stored == MESSAGES, (stored, sent.failures)
    ledger = await read_ledger(topology.postgres.url)
    ours = {m: a for m, a in ledger.actions.items() if m.startswith(f"{run}-")}
    assert set(ours) == set(sent.answers)
    assert not any(ledger.provisional[m] for m in ours)
    # What a client was told is what is stored, unless it was told it was provisional.
    for message_id, answer in sent.answers.items():
        if not answer["provisional"]:
            assert ours[message_id] == answer["action"], (message_id, answer)
    try:
        ledger.check_exactly_once(prefix=f"{run}-")
    except AssertionError as failed:
        found = failed.args[0] if failed.args else None
        message_id = found[0] if isinstance(found, tuple) else found
        raise AssertionError((found, sent.answers.get(str(message_id)))) from None
    # The run did what it was meant to: acting on abuse, with strikes, and asking the LLM.
    assert sum(1 for m in ours if ledger.strikes[m]) > 100
    assert len(topology.llm.completions) > sent.llm_calls_before


def _kill(topology: Topology, role: str) -> Callable[[], None]:
    def kill() -> None:
        os.kill(topology.up.pids()[role], signal.SIGKILL)

    return kill


def _restart_redis(topology: Topology) -> Callable[[], None]:
    def restart() -> None:
        topology.redis.stop()
        time.sleep(1.0)
        topology.redis.start()

    return restart


def _stop_postgres(topology: Topology) -> Callable[[], None]:
    def outage() -> None:
        topology.postgres.stop()
        time.sleep(10.0)
        topology.postgres.start()

    return outage


def _run(topology: Topology, make_break: Callable[[Topology], Callable[[], None]]) -> Sent:
    run = uuid.uuid4().hex[:8]
    calls = len(topology.llm.completions)
    started = time.monotonic()
    sent = asyncio.run(_send(topology.api, run, make_break(topology)))
    sent.llm_calls_before = calls
    took = time.monotonic() - started
    answers = list(sent.answers.values())
    degraded = {
        "provisional": sum(1 for a in answers if a["provisional"]),
        "decided without the decision role": sum(
            1 for a in answers if str(a["reason"]).startswith("decision role unavailable")
        ),
        "without the filter": sum(
            1
            for a in answers
            if any(t["stage"] == "filter" and t["error"] for t in a.get("trail") or ())
        ),
    }
    print(
        f"\n{MESSAGES} messages in {took:.1f}s ({MESSAGES / took:.0f}/s); failed requests "
        f"{sent.failures or 'none'}; batches sent twice {sent.resent}; answers {degraded}"
    )
    asyncio.run(_check(topology, run, sent))
    return sent


def test_kill_9_of_the_filter_role(topology: Topology) -> None:
    before = topology.up.pids()["filter"]
    _run(topology, lambda t: _kill(t, "filter"))
    # `chatguard up` started it again, and the run went on.
    assert (
        f"the filter role (pid {before}) exited with code -9; starting it again (1 of 5"
        in topology.up.output()
    )
    assert topology.up.pids()["filter"] != before


def test_kill_9_of_the_llm_worker(topology: Topology) -> None:
    before = topology.up.pids()["llm-worker"]
    _run(topology, lambda t: _kill(t, "llm-worker"))
    assert f"the llm-worker role (pid {before}) exited with code -9" in topology.up.output()


def test_redis_restarts(topology: Topology) -> None:
    _run(topology, _restart_redis)


def test_postgres_stops_for_10_s(topology: Topology) -> None:
    _run(topology, _stop_postgres)


def test_every_role_is_healthy_after_the_chaos(topology: Topology) -> None:
    deadline = time.monotonic() + 60
    while True:
        health = {
            role: httpx.get(f"{topology.up.url(role)}/health", timeout=10).json()["status"]
            for role in ROLES
        }
        if set(health.values()) == {"ok"} or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    assert set(health.values()) == {"ok"}, health
    assert topology.up.process.poll() is None
