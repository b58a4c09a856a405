"""Load through `chatguard up` on PostgreSQL and Redis: the distributed shape (filter, decision
and api roles as processes, their work on Redis Streams or over HTTP), measured as
`bench/load.py` measures the embedded server: the stored `POST /moderate` against the
stateless `POST /v1/moderations` in alternating rounds, and `POST /moderate/batch`.

    .venv/bin/python bench/load_up.py [--database-url URL] [--redis-url URL]
                                      [--transport redis|http] [--duration 8]
                                      [--connections 16] [--rounds 3] [--batch-size 500]

`--database-url` names a PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/postgres):
the run makes a database of its own there and drops it afterwards. `--redis-url` (default
redis://127.0.0.1:6379/0): the run's streams and limits are under a key prefix of its own,
deleted afterwards. Rate limits are off.

It also prints each role's CPU (user and system time of its process, from `/proc`) per stored
request and per batch message, and the rate those alone allow on the cores this machine has:
the physical limit of the shape here, whatever the code's latency.

Checks: every answer was a 200 and no socket failed; the messages stored under this run's id
prefix number at least the 200s wrk counted and at most that plus what was in flight;
otherwise exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import load
from checks import require
from load import CHECKS, print_goals, wrk

ROLES = "filter,decision,api"
#: `chatguard up`'s ready line of one role: its name and pid.
READY = re.compile(r"chatguard up: (\S+)\s+ready at \S+ \(pid (\d+)\)")


def _sql(admin_url: str, statement: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(admin_url.replace("+asyncpg", ""))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


class Up:
    """`chatguard up` in a child process, on free ports."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.ports = {role: load.free_port() for role in ROLES.split(",")}
        self.url = f"http://127.0.0.1:{self.ports['api']}"
        command = [load.CHATGUARD, "up", "--roles", ROLES, "--state-dir", str(cwd / "state")]
        for role, port in self.ports.items():
            command += ["--port", f"{role}={port}"]
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 240
        while not any("every role is ready" in line for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = "\n".join(self.lines[-20:])
                require(False, CHECKS.name, f"`chatguard up` did not get ready:\n{tail}")
            time.sleep(0.3)

    def pids(self) -> dict[str, int]:
        """Each role's process id, from its ready line."""
        found: dict[str, int] = {}
        for line in self.lines:
            ready = READY.search(line)
            if ready:
                found[ready.group(1)] = int(ready.group(2))
        return found

    def role_cpu(self) -> dict[str, float]:
        """CPU seconds each role's process (and its children) has used so far."""
        return {role: load.process_tree_cpu(pid) for role, pid in self.pids().items()}

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--transport", choices=("redis", "http"), default="redis")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    require(shutil.which("wrk") is not None, CHECKS.name, "wrk is not installed")

    workdir = Path(tempfile.mkdtemp(prefix="chatguard-load-up-"))
    load.TEXTS, lines = load.write_texts(workdir)
    run = f"loadup-{uuid.uuid4().hex[:8]}"
    database = run.replace("-", "_")
    admin = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    database_url = (
        f"{admin.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+asyncpg://')}/{database}"
    )
    prefix = f"chatguard-{run}:"
    _sql(admin, f'CREATE DATABASE "{database}"')
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": args.redis_url,
        "EVENT_BUS": "redis",
        "ROLE_TRANSPORT": args.transport,
        "EVENT_STREAM_PREFIX": prefix,
        "RATE_LIMIT_PREFIX": prefix,
        "RATE_LIMIT_KEY_PER_S": "0",
        "RATE_LIMIT_USER_PER_S": "0",
        "LOG_LEVEL": "WARNING",
    }
    up = None
    answered = in_flight = 0
    try:
        up = Up(env, workdir)
        wrk(up.url, "stateless", f"{run}-w", seconds=2, connections=4)
        warm = wrk(up.url, "moderate", f"{run}-w", seconds=2, connections=4)
        answered, in_flight = warm.ok, 4
        stateless, stored = [], []
        stored_cpu: dict[str, float] = {}
        for r in range(args.rounds):
            stateless.append(
                wrk(up.url, "stateless", f"{run}-s{r}", seconds=args.duration,
                    connections=args.connections)
            )  # fmt: skip
            mark = up.role_cpu()
            result = wrk(
                up.url, "moderate", f"{run}-m{r}", seconds=args.duration,
                connections=args.connections,
            )  # fmt: skip
            for role, seconds in up.role_cpu().items():
                stored_cpu[role] = stored_cpu.get(role, 0.0) + seconds - mark.get(role, 0.0)
            stored.append(result)
            answered += result.ok
            in_flight += args.connections
            load.settle(database_url, run)
        mark = up.role_cpu()
        batch = wrk(
            up.url, "batch", f"{run}-b", seconds=args.duration, connections=2,
            batch=args.batch_size,
        )  # fmt: skip
        batch_cpu = {role: sec - mark.get(role, 0.0) for role, sec in up.role_cpu().items()}
        answered += batch.ok * args.batch_size
        in_flight += 2 * args.batch_size
        load.settle(database_url, run)
        rows = load.stored_messages(database_url, run)
    finally:
        if up is not None:
            up.stop()
        _sql(admin, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        import redis

        client = redis.Redis.from_url(args.redis_url)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()

    CHECKS.expect(
        answered <= rows <= answered + in_flight,
        f"{rows} messages stored for {answered} answered 200 (in flight at most {in_flight})",
    )
    s_rate = statistics.median(r.rate for r in stateless)
    m_rate = statistics.median(r.rate for r in stored)
    m_p99 = statistics.median(r.p99_ms for r in stored)
    ratio = m_rate / s_rate if s_rate else 0.0
    batch_mps = batch.ok * args.batch_size / batch.seconds
    print(
        f"load through `chatguard up` ({ROLES}; work over {args.transport}), PostgreSQL + Redis, "
        f"{args.connections} connections, {args.rounds} rounds of {args.duration:g} s "
        f"(medians), {lines} chat lines"
    )
    print(
        f"  POST /v1/moderations (stateless): {s_rate:8.0f} req/s   "
        f"p99 {statistics.median(r.p99_ms for r in stateless):6.1f} ms"
    )
    print(
        f"  POST /moderate (stored):          {m_rate:8.0f} req/s   "
        f"p50 {statistics.median(r.p50_ms for r in stored):6.1f} ms   p99 {m_p99:6.1f} ms"
    )
    print(f"  ratio stored/stateless:           {ratio:8.2f}")
    print(f"  POST /moderate/batch ({args.batch_size}/request): {batch_mps:8.0f} msg/s")
    stored_ok = sum(r.ok for r in stored)
    CHECKS.expect(
        set(stored_cpu) == set(ROLES.split(",")),
        f"the CPU of every role was measured (found {sorted(stored_cpu)})",
    )
    cores = len(os.sched_getaffinity(0))
    batch_messages = batch.ok * args.batch_size
    for what, used, count, unit in (
        ("stored request", stored_cpu, stored_ok, "stored req/s"),
        ("batch message", batch_cpu, batch_messages, "batch msg/s"),
    ):
        per = {role: 1e6 * sec / max(1, count) for role, sec in used.items()}
        total_us = sum(per.values())
        print(
            f"  roles' CPU per {what}: "
            + ", ".join(f"{role} {us:.0f} µs" for role, us in per.items())
            + f"; together {total_us:.0f} µs (PostgreSQL, Redis and wrk not counted)"
        )
        if total_us:
            print(
                f"    ceiling from the roles' CPU alone on {cores} cores: "
                f"{cores * 1e6 / total_us:.0f} {unit}"
            )
    print(f"  messages stored {rows}, answered 200 {answered}")
    if not CHECKS.passed:
        return CHECKS.report()
    print_goals(m_rate, m_p99, ratio, batch_mps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
