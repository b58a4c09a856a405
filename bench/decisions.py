"""What channel policy costs per message, next to the core's threshold decider, in one run.

Peers: the built-in `ThresholdDecider` (no policy), the `PolicyEngine` without a database
(presets only), with SQLite and with PostgreSQL (when it answers on 127.0.0.1:5432), for clean
messages (policy from cache, nothing written) and for offences (strike lookup, strike and audit
writes). Then the whole `ModerationService.moderate` path with each decider, and the cost of
signing a webhook body. Prints medians and 95th percentiles in microseconds.

Checks: the deciders reach the decisions they are timed for (clean allowed, offences removed),
the offences' strikes and audit rows are stored, and the service path stores every message;
otherwise the script exits 1.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from checks import Checks
from sqlalchemy import text

from chatguard.config import load_settings
from chatguard.decide import ThresholdDecider
from chatguard.decisions import PolicyEngine
from chatguard.decisions.repository import DecisionRepository
from chatguard.decisions.webhooks import sign
from chatguard.domain import Assessment, Message, Route, StageTrace
from chatguard.service import ModerationService, Outcome
from chatguard.storage import SqlStore
from chatguard.taxonomy import Category

N_CLEAN = int(os.environ.get("N_CLEAN", "2000"))
N_OFFENCE = int(os.environ.get("N_OFFENCE", "300"))
TEXTS = ("good game everyone", "kys")
PG = os.environ.get("CHATGUARD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
CHECKS = Checks("bench/decisions.py")

CLEAN = Assessment(
    "m",
    {Category.HARASSMENT: 0.05},
    Route.ALLOW,
    "rules",
    trail=(StageTrace("rules", 0.01, Route.ALLOW),),
)
TOXIC = Assessment(
    "m",
    {Category.HARASSMENT_THREATENING: 0.95},
    Route.ACT,
    "rules",
    trail=(StageTrace("rules", 0.01, Route.ACT),),
)


async def timed(n: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        await call(i)
        samples.append((time.perf_counter() - started) * 1e6)
    return samples


def row(name: str, samples: list[float], baseline: float | None) -> str:
    median = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[18]
    ratio = f"{median / baseline:6.1f}x" if baseline else "   1.0x"
    return f"  {name:<44} median {median:9.1f} us   p95 {p95:9.1f} us   {ratio}"


def pg_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


async def pg_database() -> tuple[str, Callable[[], Awaitable[None]]]:
    import asyncpg

    name = f"chatguard_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()

    async def drop() -> None:
        connection = await asyncpg.connect(PG)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()

    base = PG.rsplit("/", 1)[0].split("://", 1)[1]
    return f"postgresql+asyncpg://{base}/{name}", drop


async def rows(store: SqlStore, table: str) -> int:
    async with store.engine.connect() as connection:
        return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar() or 0)


async def check_decider(name: str, decider: ThresholdDecider | PolicyEngine) -> None:
    """The decider allows the clean assessment and removes the offence (untimed)."""
    clean = await decider.decide(msg(10**6), CLEAN)
    toxic = await decider.decide(msg(10**6 + 1), TOXIC)
    CHECKS.expect(not clean.action.removes_message, f"{name}: the clean message got {clean.action}")
    CHECKS.expect(toxic.action.removes_message, f"{name}: the offence got {toxic.action}")


async def deciders(tmp: Path) -> None:
    print(f"decide(): {N_CLEAN} clean messages, {N_OFFENCE} offences (distinct users)")
    threshold = ThresholdDecider()
    await check_decider("ThresholdDecider", threshold)
    base = await timed(N_CLEAN, lambda i: threshold.decide(msg(i), CLEAN))
    baseline = statistics.median(base)
    print(row("ThresholdDecider, clean", base, None))
    bare = PolicyEngine()
    await check_decider("PolicyEngine, no database", bare)
    print(
        row(
            "PolicyEngine, no database, clean",
            await timed(N_CLEAN, lambda i: bare.decide(msg(i), CLEAN)),
            baseline,
        )
    )
    stores = [("SQLite", f"sqlite+aiosqlite:///{tmp / 'bench.db'}", None)]
    if pg_answers():
        url, drop = await pg_database()
        stores.append(("PostgreSQL", url, drop))
    for label, url, drop in stores:
        store = SqlStore(url)
        await store.start()
        engine = PolicyEngine(repository=DecisionRepository(engine=store.engine))
        print(
            row(
                f"PolicyEngine, {label}, clean",
                await timed(N_CLEAN, lambda i, e=engine: e.decide(msg(i), CLEAN)),
                baseline,
            )
        )
        print(
            row(
                f"PolicyEngine, {label}, offence (strike+audit)",
                await timed(N_OFFENCE, lambda i, e=engine: e.decide(msg(i), TOXIC)),
                baseline,
            )
        )
        for table in ("strikes", "audit_log"):
            stored = await rows(store, table)
            CHECKS.expect(
                stored >= N_OFFENCE,
                f"PolicyEngine, {label}: {stored} {table} rows for {N_OFFENCE} offences",
            )
        await check_decider(f"PolicyEngine, {label}", engine)
        await store.close()
        if drop is not None:
            await drop()


async def service_path(tmp: Path) -> None:
    print(
        f"ModerationService.moderate() end to end on SQLite (rules stage, store), {N_OFFENCE} "
        "messages each"
    )
    baseline = None
    for label, make in (("ThresholdDecider", ThresholdDecider), ("PolicyEngine", None)):
        settings = load_settings(
            database_url=f"sqlite:///{tmp / f'{label}.db'}",
            pipeline_stages="rules",
            _env_file=None,
        )
        service = ModerationService.from_settings(settings)
        if make is not None:
            service.decider = make()
        await service.start()
        outcomes: list[Outcome] = []

        async def one(
            i: int, s: ModerationService = service, out: list[Outcome] = outcomes
        ) -> None:
            message = Message(text=TEXTS[i % 2], user_id=f"u{i}", channel_id="lobby")
            out.append(await s.moderate(message))

        samples = await timed(N_OFFENCE, one)
        assert service.store is not None
        stored = await service.store.count("messages")
        await service.close()
        removed = sum(1 for o in outcomes if o.response["action"] != "allow")
        CHECKS.expect(stored == N_OFFENCE, f"{label}: {stored} of {N_OFFENCE} messages stored")
        CHECKS.expect(
            removed == N_OFFENCE // 2,
            f"{label}: {removed} of {N_OFFENCE} messages acted on; half are offences",
        )
        print(row(f"{label}, half clean half toxic", samples, baseline))
        baseline = baseline or statistics.median(samples)


def signing() -> None:
    body = b'{"type":"decision","message_id":"' + b"x" * 32 + b'","action":"ban"}'
    samples = []
    for i in range(20_000):
        started = time.perf_counter()
        sign("a-secret-of-sufficient-length", 1_800_000_000 + i, body)
        samples.append((time.perf_counter() - started) * 1e6)
    print("webhook signing (HMAC-SHA256 of a typical event body)")
    print(row("sign()", samples, None))


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        await deciders(Path(tmp))
        await service_path(Path(tmp))
    signing()
    return CHECKS.report()


def msg(i: int) -> Message:
    return Message(text="...", user_id=f"user{i}", channel_id="lobby")


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
