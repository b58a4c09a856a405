"""Load on a running server with wrk: the stored `POST /moderate` against the stateless
`POST /v1/moderations` in the same run (same server, same connection count, alternating
rounds), `POST /moderate/batch` in messages/s, and single requests while batches flood.

    .venv/bin/python bench/load.py [--database-url URL] [--workers N] [--duration 8]
                                   [--connections 16] [--rounds 3] [--batch-size 500]

Starts `chatguard serve` on a free port (SQLite in a temporary directory unless
`--database-url` names another database, e.g. PostgreSQL), with rate limits off, and drives it
with wrk (`bench/wrk/chat.lua`: a unique message id per message). Prints req/s and p50/p99
(medians over the rounds), the ratio stored/stateless, batch msg/s, the single requests'
p99 and maximum with and without a batch flood, and where a stored request's time goes, from
the server's own metrics (time in the store against time in the cascade's stages), and the
server's CPU per request answered (user and system time of the server process and its
workers, from /proc) for the stateless, stored and batch phases.

Checks: every answer was a 200 and no socket failed; the messages stored under this run's id
prefix number at least the 200s wrk counted and at most that plus what was in flight when wrk
stopped (one request per connection); otherwise exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from checks import Checks, require

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "wrk" / "chat.lua"
#: Real chat lines (Twitch and Dota 2 chat samples shipped with the tests).
CHAT_SAMPLES = (
    ROOT / "tests" / "fixtures" / "data" / "twitch_chat.jsonl",
    ROOT / "tests" / "fixtures" / "data" / "dota2_chat.jsonl",
)
CHATGUARD = str(Path(sys.executable).with_name("chatguard"))
CHECKS = Checks("bench/load.py")
#: The goals on a 2-core machine, embedded server on SQLite.
GOAL_STORED_RPS = 1500.0
GOAL_STORED_P99_MS = 50.0
GOAL_RATIO = 0.80
GOAL_BATCH_MPS = 20_000.0


@dataclass(frozen=True)
class Result:
    """One wrk run, as chat.lua reports it."""

    requests: int
    seconds: float
    ok: int
    other: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


TEXTS: Path | None = None


def write_texts(directory: Path) -> tuple[Path, int]:
    """The chat samples as chat.lua reads them: one JSON-escaped string a line."""
    lines = []
    for sample in CHAT_SAMPLES:
        with sample.open(encoding="utf-8") as handle:
            lines.extend(json.dumps(json.loads(line)["text"])[1:-1] for line in handle)
    path = directory / "texts.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, len(lines)


def wrk(
    url: str, mode: str, run: str, *, seconds: float, connections: int, batch: int = 1
) -> Result:
    threads = max(1, min(2, connections))
    env = {**os.environ, "CG_MODE": mode, "CG_RUN": run, "CG_BATCH": str(batch)}
    if TEXTS is not None:
        env["CG_TEXTS"] = str(TEXTS)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 60)
    found = re.search(r"^CGRESULT (\{.*\})$", done.stdout, re.MULTILINE)
    require(
        found is not None,
        CHECKS.name,
        f"wrk printed no result: {(done.stderr or done.stdout).strip()[:300]}",
    )
    assert found is not None
    data = json.loads(found.group(1))
    result = Result(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        ok=data["ok"],
        other=data["other"],
        socket_errors=data["socket_errors"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )
    CHECKS.expect(result.ok > 0, f"{mode}: no request answered 200")
    CHECKS.expect(result.other == 0, f"{mode}: {result.other} answers were not 200")
    CHECKS.expect(result.socket_errors == 0, f"{mode}: {result.socket_errors} socket errors")
    return result


class Server:
    """`chatguard serve` in a child process."""

    def __init__(self, database_url: str, *, workers: int, cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "RATE_LIMIT_KEY_PER_S": "0",
            "RATE_LIMIT_USER_PER_S": "0",
            "LOG_LEVEL": "WARNING",
        }
        command = [CHATGUARD, "serve", "--port", str(self.port)]
        if workers != 1:
            command += ["--workers", str(workers)]
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode()[-500:] if self.process.stderr else ""
                require(False, CHECKS.name, f"the server exited at start: {error}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        require(False, CHECKS.name, "the server did not answer /health within 120 s")

    def metrics(self) -> dict[str, float]:
        """The sums and counts of the timing histograms this bench reads."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        wanted = re.compile(
            r"^(chatguard_(?:store_seconds|stage_latency_seconds|store_group_callers)"
            r"_(?:sum|count))(\{[^}]*\})? ([0-9.e+-]+)$"
        )
        found: dict[str, float] = {}
        for line in text.splitlines():
            m = wanted.match(line)
            if m:
                found[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        return found

    def cpu_seconds(self) -> float:
        """User and system CPU time of the server process and its live descendants (the
        workers of `--workers N`), from /proc."""
        return process_tree_cpu(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def process_tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by `root` and its live descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        used[int(entry)] = int(fields[11]) + int(fields[12])
    total = 0
    for pid, ticks_used in used.items():
        walk = pid
        while walk > 1 and walk != root:
            walk = parents.get(walk, 0)
        if walk == root:
            total += ticks_used
    return total / ticks


def stored_messages(database_url: str, prefix: str) -> int:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def count() -> int:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                found = await connection.scalar(
                    text("SELECT count(*) FROM messages WHERE id LIKE :p"), {"p": prefix + "%"}
                )
                return int(found or 0)
        finally:
            await engine.dispose()

    return asyncio.run(count())


def settle(database_url: str, prefix: str, *, limit_s: float = 60.0) -> None:
    """Wait until the server has finished what wrk left in flight (the stored count stops
    growing), so that one phase's leftovers are not timed in the next."""
    last = -1
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        now = stored_messages(database_url, prefix)
        if now == last:
            return
        last = now
        time.sleep(1.0)


def delta(after: dict[str, float], before: dict[str, float], key: str) -> float:
    return after.get(key, 0.0) - before.get(key, 0.0)


def where_time_goes(
    before: dict[str, float], after: dict[str, float], requests: int, p50_ms: float
) -> tuple[str, str]:
    """Per stored request: ms waiting on the store (read, save), in the stages, and the rest
    of the median latency (HTTP, framework, policy, waiting for the event loop); and which
    of them is the largest: the bottleneck."""
    if requests <= 0:
        return "no requests", "unknown"
    read = delta(after, before, 'chatguard_store_seconds_sum{operation="read"}')
    save = delta(after, before, 'chatguard_store_seconds_sum{operation="save"}')
    stages = sum(
        delta(after, before, k)
        for k in after
        if k.startswith("chatguard_stage_latency_seconds_sum")
    )
    groups = delta(after, before, "chatguard_store_group_callers_count")
    callers = delta(after, before, "chatguard_store_group_callers_sum")
    per = {
        "the store (read + save)": (read + save) * 1000 / requests,
        "the cascade's stages": stages * 1000 / requests,
    }
    per["the rest (HTTP, framework, policy, event-loop queueing)"] = max(
        0.0, p50_ms - sum(per.values())
    )
    parts = ", ".join(f"{k} {v:.2f} ms" for k, v in per.items())
    if groups:
        parts += f"; {callers / groups:.1f} saves per transaction"
    return parts, max(per, key=lambda k: per[k])


def print_goals(stored_rps: float, stored_p99_ms: float, ratio: float, batch_mps: float) -> None:
    """One line per load goal: met or missed."""
    goals = (
        (stored_rps >= GOAL_STORED_RPS, f"/moderate >= {GOAL_STORED_RPS:.0f} req/s"),
        (stored_p99_ms < GOAL_STORED_P99_MS, f"/moderate p99 < {GOAL_STORED_P99_MS:.0f} ms"),
        (ratio >= GOAL_RATIO, f"stored >= {GOAL_RATIO:.0%} of stateless"),
        (batch_mps >= GOAL_BATCH_MPS, f"/moderate/batch >= {GOAL_BATCH_MPS:.0f} msg/s"),
    )
    for met, goal in goals:
        print(f"  goal {'met   ' if met else 'missed'}: {goal}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()

    require(
        shutil.which("wrk") is not None,
        CHECKS.name,
        "wrk is not installed (bash scripts/ensure-tools.sh installs it)",
    )
    global TEXTS
    workdir = Path(tempfile.mkdtemp(prefix="chatguard-load-"))
    TEXTS, lines = write_texts(workdir)
    require(lines > 1000, CHECKS.name, f"only {lines} chat lines in the samples")
    database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'load.db'}"
    label = "SQLite (embedded)" if args.database_url is None else database_url.split("://")[0]
    run = f"load-{uuid.uuid4().hex[:8]}"
    server = Server(database_url, workers=args.workers, cwd=workdir)
    answered = 0  # messages answered 200 by the stored endpoints
    in_flight = 0  # at most what was on the wire when a wrk run stopped
    try:
        # Warm up both paths (first requests load lazily built state).
        wrk(server.url, "stateless", f"{run}-w", seconds=2, connections=4)
        warm = wrk(server.url, "moderate", f"{run}-w", seconds=2, connections=4)
        answered, in_flight = warm.ok, 4

        stateless: list[Result] = []
        stored: list[Result] = []
        before = server.metrics()
        cpu = {"stateless": 0.0, "moderate": 0.0}
        for r in range(args.rounds):
            mark = server.cpu_seconds()
            stateless.append(
                wrk(
                    server.url,
                    "stateless",
                    f"{run}-s{r}",
                    seconds=args.duration,
                    connections=args.connections,
                )
            )
            now = server.cpu_seconds()
            cpu["stateless"] += now - mark
            mark = now
            result = wrk(
                server.url,
                "moderate",
                f"{run}-m{r}",
                seconds=args.duration,
                connections=args.connections,
            )
            stored.append(result)
            answered += result.ok
            in_flight += args.connections
            settle(database_url, run)
            cpu["moderate"] += server.cpu_seconds() - mark
        after = server.metrics()

        mark = server.cpu_seconds()
        batch = wrk(
            server.url,
            "batch",
            f"{run}-b",
            seconds=args.duration,
            connections=2,
            batch=args.batch_size,
        )
        answered += batch.ok * args.batch_size
        in_flight += 2 * args.batch_size
        settle(database_url, run)
        cpu["batch"] = server.cpu_seconds() - mark

        quiet = wrk(server.url, "moderate", f"{run}-q", seconds=args.duration, connections=4)
        answered += quiet.ok
        in_flight += 4
        flood_result: list[Result] = []

        def flood() -> None:
            flood_result.append(
                wrk(
                    server.url,
                    "batch",
                    f"{run}-f",
                    seconds=args.duration + 2,
                    connections=2,
                    batch=1000,
                )
            )

        import threading

        flooding = threading.Thread(target=flood)
        flooding.start()
        time.sleep(1.0)  # the flood is on before the single requests start
        under = wrk(server.url, "moderate", f"{run}-u", seconds=args.duration, connections=4)
        flooding.join()
        answered += under.ok + flood_result[0].ok * 1000
        in_flight += 4 + 2 * 1000
    finally:
        server.stop()

    rows = stored_messages(database_url, run)
    CHECKS.expect(
        answered <= rows <= answered + in_flight,
        f"{rows} messages stored for {answered} answered 200 (in flight at most {in_flight})",
    )

    s_rate = statistics.median(r.rate for r in stateless)
    m_rate = statistics.median(r.rate for r in stored)
    m_p50 = statistics.median(r.p50_ms for r in stored)
    m_p99 = statistics.median(r.p99_ms for r in stored)
    s_p99 = statistics.median(r.p99_ms for r in stateless)
    ratio = m_rate / s_rate if s_rate else 0.0
    batch_mps = batch.ok * args.batch_size / batch.seconds
    flood_mps = flood_result[0].ok * 1000 / flood_result[0].seconds
    print(
        f"load on {label}, {args.workers} worker(s), {args.connections} connections, "
        f"{args.rounds} rounds of {args.duration:g} s (medians), {lines} chat lines"
    )
    print(
        f"  POST /v1/moderations (stateless): {s_rate:8.0f} req/s   "
        f"p50 {statistics.median(r.p50_ms for r in stateless):6.1f} ms   p99 {s_p99:6.1f} ms"
    )
    print(
        f"  POST /moderate (stored):          {m_rate:8.0f} req/s   p50 {m_p50:6.1f} ms   "
        f"p99 {m_p99:6.1f} ms"
    )
    print(f"  ratio stored/stateless:           {ratio:8.2f}")
    print(
        f"  POST /moderate/batch ({args.batch_size}/request): {batch_mps:8.0f} msg/s   "
        f"p99 {batch.p99_ms:.0f} ms per request"
    )
    print(
        f"  single requests (4 connections), quiet:         p99 {quiet.p99_ms:6.1f} ms   "
        f"max {quiet.max_ms:6.1f} ms"
    )
    print(
        f"  single requests under a 1,000-message flood:    p99 {under.p99_ms:6.1f} ms   "
        f"max {under.max_ms:6.1f} ms   (flood {flood_mps:.0f} msg/s)"
    )
    per_request = (
        1e6 * cpu["stateless"] / max(1, sum(r.ok for r in stateless)),
        1e6 * cpu["moderate"] / max(1, sum(r.ok for r in stored)),
        1e6 * cpu["batch"] / max(1, batch.ok * args.batch_size),
    )
    print(
        "  server CPU per request: stateless {:.0f} µs, stored {:.0f} µs, "
        "batch {:.0f} µs a message".format(*per_request)
    )
    parts, bottleneck = where_time_goes(before, after, sum(r.ok for r in stored), m_p50)
    print(f"  a stored request's median time (server metrics of the worker scraped): {parts}")
    print(f"  bottleneck: {bottleneck}")
    print(f"  messages stored {rows}, answered 200 {answered}")
    if not CHECKS.passed:
        return CHECKS.report()
    print_goals(m_rate, m_p99, ratio, batch_mps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
