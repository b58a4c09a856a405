"""Runs roles as local processes: `chatguard up`'s supervisor.

`plan_roles` decides each role's port and environment (the api role is told where the filter,
llm-worker and decision roles listen); `Supervisor` starts them (the roles the api calls
first), waits until each answers `/health`, prefixes their output with the role's name,
and stops them all, each with SIGTERM and, past a grace period, SIGKILL, when asked to.
`RestartBudget` says whether a role that exited by itself is started again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from chatguard.roles import DEFAULT_PORTS, ROLES

#: The roles the api role calls, and the setting that tells it where each listens.
PEER_SETTINGS = {
    "filter": "FILTER_ENDPOINT",
    "llm-worker": "LLM_WORKER_ENDPOINT",
    "decision": "DECISION_ENDPOINT",
}
#: Settings `chatguard up` sets per role; whatever the environment says of them is replaced.
_ROLE_OWNED = (*PEER_SETTINGS.values(), "BIND_HOST", "SPOOL_PATH")


class RoleExitedError(RuntimeError):
    """A role's process ended while the supervisor still needed it."""

    def __init__(self, role: str, pid: int, code: int | None) -> None:
        super().__init__(f"the {role} role (pid {pid}) exited with code {code}")
        self.role = role
        self.code = code


class RoleStartTimeoutError(RuntimeError):
    """A role did not answer `/health` in time."""


@dataclass(frozen=True, slots=True)
class RolePlan:
    """How one role is to run: where it listens and the environment it gets."""

    role: str
    host: str
    port: int
    env: Mapping[str, str]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "chatguard",
            "serve",
            "--role",
            self.role,
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]


def role_port(role: str, base_port: int) -> int:
    """`base_port` plus the role's offset in the default layout (8000 api ... 8005)."""
    return base_port + DEFAULT_PORTS[role] - DEFAULT_PORTS["api"]


def plan_roles(
    roles: Sequence[str],
    *,
    host: str,
    base_port: int,
    env: Mapping[str, str],
    state_dir: Path,
    ports: Mapping[str, int] | None = None,
) -> list[RolePlan]:
    """Each role's plan, in start order (`ROLES`' order: the api last). `ports` overrides
    the base-port layout per role. Each role gets its own spool file under `state_dir`."""
    chosen = [r for r in ROLES if r in roles]
    port_of = {r: (ports or {}).get(r, role_port(r, base_port)) for r in chosen}
    plans = []
    for role in chosen:
        role_env = {k: v for k, v in env.items() if k not in _ROLE_OWNED}
        role_env["BIND_HOST"] = host
        role_env["SPOOL_PATH"] = str(state_dir / f"spool-{role}.sqlite3")
        if role == "api":
            for peer, setting in PEER_SETTINGS.items():
                if peer in port_of:
                    role_env[setting] = RolePlan(peer, host, port_of[peer], {}).url
            if "llm-worker" in port_of:
                role_env.pop("LLM_ENDPOINT", None)  # the worker calls the model, not the api
        plans.append(RolePlan(role, host, port_of[role], role_env))
    return plans


def health_status(url: str, *, timeout_s: float = 2.0) -> int | None:
    """The HTTP status of `url`/health, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


@dataclass
class RestartBudget:
    """At most `limit` restarts within any `window_s` seconds; past that a role that keeps
    exiting is a failure, not a hiccup. `limit` 0: never restart."""

    limit: int = 5
    window_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _times: list[float] = field(default_factory=list)

    def take(self) -> int | None:
        """Count one restart and return its number in the window, or None when spent."""
        now = self.clock()
        self._times = [t for t in self._times if now - t < self.window_s]
        if len(self._times) >= self.limit:
            return None
        self._times.append(now)
        return len(self._times)


@dataclass(slots=True)
class RunningRole:
    plan: RolePlan
    process: subprocess.Popen[bytes]
    pump: threading.Thread | None = None

    @property
    def exit_code(self) -> int | None:
        return self.process.poll()


@dataclass
class Supervisor:
    """Starts, watches and stops the roles of `plans`."""

    plans: Sequence[RolePlan]
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    start_timeout_s: float = 120.0
    stop_timeout_s: float = 15.0
    poll_s: float = 0.2
    running: list[RunningRole] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def say(self, line: str) -> None:
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()

    def start(self, stopping: Callable[[], bool] = lambda: False) -> None:
        """Start every role and wait until each answers `/health` with 200. The roles the
        api role calls start together first, the api after them. Raises `RoleExitedError`
        or `RoleStartTimeoutError` (the caller stops what runs)."""
        peers = [p for p in self.plans if p.role != "api"]
        last = [p for p in self.plans if p.role == "api"]
        for group in (peers, last):
            started = [self._spawn(plan) for plan in group]
            for role in started:
                self._await_health(role, stopping)
                if stopping():
                    return
                self.say_ready(role)

    def say_ready(self, role: RunningRole) -> None:
        self.say(
            f"chatguard up: {role.plan.role:<10} ready at {role.plan.url} (pid {role.process.pid})"
        )

    def _spawn(self, plan: RolePlan) -> RunningRole:
        process = subprocess.Popen(
            plan.command(),
            env=dict(plan.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own process group: a Ctrl-C reaches the supervisor only, which then stops
            # the roles in order instead of all of them at once.
            start_new_session=True,
        )
        role = RunningRole(plan, process)
        role.pump = threading.Thread(target=self._pump, args=(role,), daemon=True)
        role.pump.start()
        self.running.append(role)
        return role

    def _pump(self, role: RunningRole) -> None:
        """Copy the role's output, each line prefixed with its name."""
        stream = role.process.stdout
        assert stream is not None
        name = role.plan.role
        for raw in iter(stream.readline, b""):
            self.say(f"[{name}] {raw.decode('utf-8', 'replace').rstrip()}")

    def _await_health(self, role: RunningRole, stopping: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while not stopping():
            code = role.exit_code
            if code is not None:
                raise RoleExitedError(role.plan.role, role.process.pid, code)
            if health_status(role.plan.url, timeout_s=1.0) == 200:
                return
            if time.monotonic() > deadline:
                raise RoleStartTimeoutError(
                    f"the {role.plan.role} role did not answer {role.plan.url}/health "
                    f"within {self.start_timeout_s:g}s"
                )
            time.sleep(self.poll_s)

    def exited(self) -> RunningRole | None:
        """A role whose process has ended, if any."""
        for role in self.running:
            if role.exit_code is not None:
                return role
        return None

    def restart(self, role: RunningRole, stopping: Callable[[], bool]) -> RunningRole:
        """Start `role`'s plan again in place of its ended process and wait until it answers
        `/health` (raises as `start` does)."""
        if role.pump is not None:
            role.pump.join(timeout=2.0)
        self.running.remove(role)
        fresh = self._spawn(role.plan)
        self._await_health(fresh, stopping)
        return fresh

    def watch(self, stopping: Callable[[], bool]) -> RunningRole | None:
        """Wait until `stopping()` or until a role exits; return that role (None: stopping)."""
        while not stopping():
            gone = self.exited()
            if gone is not None:
                return gone
            time.sleep(self.poll_s)
        return None

    def stop(self) -> None:
        """Stop every role still running: the api first (it calls the others), then the
        rest, each SIGTERM then, after `stop_timeout_s`, SIGKILL."""
        for role in reversed(self.running):
            if role.exit_code is None:
                with contextlib.suppress(ProcessLookupError):
                    role.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout_s
        for role in reversed(self.running):
            remaining = max(0.0, deadline - time.monotonic())
            try:
                role.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self.say(f"chatguard up: the {role.plan.role} role did not stop; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(role.process.pid, signal.SIGKILL)
                role.process.wait()
        for role in self.running:
            if role.pump is not None:
                role.pump.join(timeout=2.0)
