"""Time from `chatguard serve` to a healthy server, and a first /moderate round trip.

Prints the median and the worst of several cold starts (a fresh SQLite file each time).
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

RUNS = int(os.environ.get("RUNS", "5"))
CHATGUARD = str(Path(sys.executable).with_name("chatguard"))


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
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.02)
            ready = time.perf_counter() - started
            t0 = time.perf_counter()
            httpx.post(
                f"http://127.0.0.1:{port}/moderate",
                json={"message": "hello", "user_id": "u", "channel_id": "c"},
            ).raise_for_status()
            first = time.perf_counter() - t0
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=15)
    return ready, first


def main() -> None:
    results = [one_start() for _ in range(RUNS)]
    ready = [r for r, _ in results]
    first = [f * 1000 for _, f in results]
    print(f"chatguard serve, {RUNS} cold starts")
    print(f"  ready (healthy):    median {statistics.median(ready):.2f} s, max {max(ready):.2f} s")
    print(
        f"  first /moderate:    median {statistics.median(first):.1f} ms, max {max(first):.1f} ms"
    )


if __name__ == "__main__":
    main()
