"""`chatguard up` as a test runs it: a subprocess on free ports, its output collected, the
roles' process ids read off uvicorn's start lines, and every process gone afterwards."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port

CHATGUARD = str(Path(sys.executable).with_name("chatguard"))
READY = "every role is ready"
#: The line `chatguard up` prints when a role answers `/health` (again, after a restart).
STARTED = re.compile(r"^chatguard up: (?P<role>[a-z-]+) +ready at \S+ \(pid (?P<pid>\d+)\)$")


@dataclass
class Up:
    """A running `chatguard up` and the lines it printed."""

    process: subprocess.Popen[str]
    ports: dict[str, int]
    lines: list[str] = field(default_factory=list)

    def url(self, role: str) -> str:
        return f"http://127.0.0.1:{self.ports[role]}"

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout_s: float, *, after: str | None = None) -> None:
        """Wait until a line holds `text` (with `after`: a line after the first that holds
        `after`)."""
        deadline = time.monotonic() + timeout_s
        while not self._printed(text, after):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(self.lines[-40:])
                raise AssertionError(f"`chatguard up` never printed {text!r}:\n{tail}")
            time.sleep(0.2)

    def _printed(self, text: str, after: str | None) -> bool:
        lines = list(self.lines)
        if after is not None:
            first = next((i for i, line in enumerate(lines) if after in line), None)
            if first is None:
                return False
            lines = lines[first + 1 :]
        return any(text in line for line in lines)

    def pids(self) -> dict[str, int]:
        found = {}
        for line in self.lines:
            match = STARTED.match(line)
            if match:
                found[match["role"]] = int(match["pid"])
        return found

    def output(self) -> str:
        return "\n".join(self.lines)


@contextlib.contextmanager
def chatguard_up(
    roles: list[str], env: dict[str, str], cwd: Path, extra_args: Sequence[str] = ()
) -> Iterator[Up]:
    ports = {role: free_port() for role in roles}
    args = [CHATGUARD, "up", "--roles", ",".join(roles), "--state-dir", str(cwd / "state")]
    for role, port in ports.items():
        args += ["--port", f"{role}={port}"]
    args += list(extra_args)
    process = subprocess.Popen(
        args,
        cwd=cwd,  # no .env there: the environment below is the whole configuration
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    up = Up(process, ports)
    reader = threading.Thread(target=up.read, daemon=True)
    reader.start()
    try:
        yield up
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        # Whatever happened, leave no role behind.
        for pid in up.pids().values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
