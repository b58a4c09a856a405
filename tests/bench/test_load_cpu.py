"""bench/load.py reads the server's CPU time from /proc: the process's own and that of its
live descendants (the workers of `serve --workers N`), so CPU per request covers them all."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
#: A parent that starts a child which spins on the CPU for a while, then both sleep.
SPIN = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', "
    "'import time\\nend = time.process_time() + 0.6\\n"
    'while time.process_time() < end: pass\\nprint("spun", flush=True)\\ntime.sleep(30)\'])\n'
    "time.sleep(30)\n"
)


def load_script() -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # as when the script runs: its helpers sit beside it
    spec = importlib.util.spec_from_file_location("bench_load", BENCH / "load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_cpu_of_a_process_tree_counts_its_descendants() -> None:
    load = load_script()
    parent = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        deadline = time.monotonic() + 30
        used = 0.0
        while time.monotonic() < deadline:
            used = load.process_tree_cpu(parent.pid)
            if used >= 0.55:
                break
            time.sleep(0.1)
        # The parent itself only sleeps: the time is its child's.
        assert used >= 0.55
        assert load.process_tree_cpu(parent.pid) < used + 0.5  # nothing spins any more
        assert load.process_tree_cpu(sys.maxsize) == 0.0  # no such process: nothing counted
    finally:
        for child in _children(parent.pid):
            os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.wait()


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]


def test_load_up_finds_each_role_s_pid_in_the_ready_lines() -> None:
    load_script()  # bench/load_up.py imports it as `load`
    spec = importlib.util.spec_from_file_location("bench_load_up", BENCH / "load_up.py")
    assert spec is not None and spec.loader is not None
    load_up = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load_up)
    up = load_up.Up.__new__(load_up.Up)  # the lines `chatguard up` printed, no processes
    up.lines = [
        "chatguard up: starting filter http://127.0.0.1:8001, api http://127.0.0.1:8000",
        "[filter] chatguard 0.1.0 filter role serving on http://127.0.0.1:8001",
        "chatguard up: filter     ready at http://127.0.0.1:8001 (pid 4242)",
        "chatguard up: llm-worker ready at http://127.0.0.1:8002 (pid 4243)",
        f"chatguard up: api        ready at http://127.0.0.1:8000 (pid {os.getpid()})",
        "chatguard up: every role is ready; Ctrl-C stops them all",
    ]
    assert up.pids() == {"filter": 4242, "llm-worker": 4243, "api": os.getpid()}
    # This process stands for the api role: its CPU so far is counted.
    assert up.role_cpu()["api"] > 0
