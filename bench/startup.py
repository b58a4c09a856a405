"""Time from `chatguard serve` to a healthy server, and a first /moderate round trip.

Prints the median and the worst of several cold starts (a fresh SQLite file each time).
Each start must answer /health with 200 and its /moderate with a decision (an action) that it
stored (the same message id sent again returns it unchanged); otherwise the script exits 1.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from checks import Checks

RUNS = int(os.environ.get("RUNS", "5"))
CHATGUARD = str(Path(sys.executable).with_name("chatguard"))
CHECKS = Checks("bench/startup.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_start() -> tuple[float, float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/bench.db"}
        started = time.perf_counter()
        process = subprocess.Popen(
            [CHATGUARD, "serve", "--port", str(port)],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        body = {"message": "hello", "user_id": "u", "channel_id": "c", "message_id": "bench-1"}
        try:
            while True:
                if process.poll() is not None:
                    CHECKS.expect(False, f"chatguard serve exited with {process.returncode}")
                    CHECKS.finish()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.02)
            ready = time.perf_counter() - started
            t0 = time.perf_counter()
            response = httpx.post(f"http://127.0.0.1:{port}/moderate", json=body)
            first = time.perf_counter() - t0
            decided = response.status_code == 200 and "action" in response.json()
            CHECKS.expect(decided, f"first /moderate answered {response.status_code}, no decision")
            again = httpx.post(f"http://127.0.0.1:{port}/moderate", json=body)
            # A stored decision comes back as it was, processing time included; a new one differs.
            stored = again.status_code == 200 and again.json() == response.json()
            CHECKS.expect(stored, "the first message was not stored (no replay when sent again)")
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=15)
    return ready, first


def main() -> int:
    results = [one_start() for _ in range(RUNS)]
    ready = [r for r, _ in results]
    first = [f * 1000 for _, f in results]
    print(f"chatguard serve, {RUNS} cold starts")
    print(f"  ready (healthy):    median {statistics.median(ready):.2f} s, max {max(ready):.2f} s")
    print(
        f"  first /moderate:    median {statistics.median(first):.1f} ms, max {max(first):.1f} ms"
    )
    return CHECKS.report()


if __name__ == "__main__":
    raise SystemExit(main())
