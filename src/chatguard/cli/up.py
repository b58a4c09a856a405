"""`chatguard up`: every role of the distributed shape as a local process, against PostgreSQL
(DATABASE_URL) and Redis (REDIS_URL). Prints where each role listens once it answers
`/health`, and stops them all on Ctrl-C or SIGTERM. A role that exits by itself is started
again (at most `--restarts` times a minute); past that, `up` says which and stops the rest
(exit code 1). See docs/roles.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chatguard.config import Settings
from chatguard.roles import DEFAULT_PORTS, ROLES, UnknownRoleError, require_role

#: Exit codes: 0 stopped as asked, 1 a role failed, 2 the configuration or a dependency.
FAILED = 1
REFUSED = 2


def register(sub: Any) -> None:
    parser = sub.add_parser("up", help="run every role as a local process (PostgreSQL + Redis)")
    parser.add_argument("--host", default="127.0.0.1", help="the address every role listens on")
    parser.add_argument(
        "--base-port",
        type=int,
        default=DEFAULT_PORTS["api"],
        help="the api role's port; the others follow the default layout "
        "(filter +1, simulator +2, decision +3, evaluator +4, llm-worker +5)",
    )
    parser.add_argument(
        "--roles",
        default="",
        help="comma-separated roles to run (default: all; the llm-worker only with LLM_ENDPOINT)",
    )
    parser.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="ROLE=PORT",
        help="one role's port, overriding the layout (repeatable)",
    )
    parser.add_argument(
        "--state-dir",
        default=".chatguard-up",
        help="where each role keeps its spool file (default: ./.chatguard-up)",
    )
    parser.add_argument(
        "--start-timeout", type=float, default=120.0, help="seconds each role has to get healthy"
    )
    parser.add_argument(
        "--restarts",
        type=int,
        default=5,
        help="how many times a minute a role that exits by itself is started again "
        "(default 5; 0: a role that exits stops them all)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chatguard.config import load_settings
    from chatguard.roles.supervisor import (
        RestartBudget,
        RoleExitedError,
        RoleStartTimeoutError,
        Supervisor,
        plan_roles,
    )

    settings = load_settings()
    try:
        roles = chosen_roles(args.roles, settings)
        ports = port_overrides(args.port)
    except (UnknownRoleError, ValueError) as exc:
        return refuse(str(exc))
    problem = requirements_problem(settings) or asyncio.run(dependencies_problem(settings))
    if problem is not None:
        return refuse(problem)
    if args.restarts < 0:
        return refuse("--restarts takes 0 or more")
    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    plans = plan_roles(
        roles,
        host=args.host,
        base_port=args.base_port,
        env=service_env(os.environ, settings),
        state_dir=state_dir,
        ports=ports,
    )
    busy = [f"{p.port} ({p.role})" for p in plans if port_in_use(p.host, p.port)]
    if busy:
        return refuse(f"ports in use: {', '.join(busy)}; choose others with --base-port or --port")

    stop = _StopFlag()
    stop.install()
    supervisor = Supervisor(plans, start_timeout_s=args.start_timeout)
    listing = ", ".join(f"{p.role} {p.url}" for p in plans)
    supervisor.say(f"chatguard up: starting {listing}")
    try:
        supervisor.start(stopping=stop)
        if not stop():
            supervisor.say("chatguard up: every role is ready; Ctrl-C stops them all")
            for plan in plans:
                supervisor.say(f"  {plan.role:<10} {plan.url}")
        budget = RestartBudget(limit=args.restarts)
        while (gone := supervisor.watch(stopping=stop)) is not None:
            ended = (
                f"chatguard up: the {gone.plan.role} role (pid {gone.process.pid}) exited with "
                f"code {gone.exit_code}"
            )
            attempt = budget.take()
            if attempt is None:
                spent = (
                    f" (restarted {args.restarts} times within a minute)" if args.restarts else ""
                )
                supervisor.say(f"{ended}{spent}; stopping the others")
                return FAILED
            supervisor.say(f"{ended}; starting it again ({attempt} of {args.restarts} a minute)")
            fresh = supervisor.restart(gone, stopping=stop)
            if not stop():
                supervisor.say_ready(fresh)
        supervisor.say(f"chatguard up: {stop.reason}; stopping every role")
        return 0
    except (RoleExitedError, RoleStartTimeoutError) as exc:
        supervisor.say(f"chatguard up: {exc}; stopping the others")
        return FAILED
    finally:
        supervisor.stop()
        supervisor.say("chatguard up: stopped")


def refuse(problem: str) -> int:
    print(f"chatguard up: {problem}", file=sys.stderr)
    return REFUSED


def chosen_roles(spec: str, settings: Settings) -> list[str]:
    """The roles asked for; by default all, the llm-worker only when LLM_ENDPOINT is set."""
    if spec.strip():
        roles = [require_role(r.strip()) for r in spec.split(",") if r.strip()]
        if "llm-worker" in roles and settings.llm_endpoint is None:
            raise ValueError("the llm-worker role needs LLM_ENDPOINT")
        return roles
    roles = list(ROLES)
    if settings.llm_endpoint is None:
        print("chatguard up: no LLM_ENDPOINT, so no llm-worker role (no adjudication)")
        roles.remove("llm-worker")
    return roles


def port_overrides(values: list[str]) -> dict[str, int]:
    ports = {}
    for value in values:
        role, sep, port = value.partition("=")
        if not sep or not port.isdigit():
            raise ValueError(f"--port takes ROLE=PORT (got {value!r})")
        ports[require_role(role.strip())] = int(port)
    return ports


def requirements_problem(settings: Settings) -> str | None:
    if not settings.database_url.startswith("postgresql+asyncpg://"):
        return (
            "DATABASE_URL must name PostgreSQL (postgresql://user@host:5432/db): the roles share it"
        )
    if settings.redis_url is None:
        return "REDIS_URL must be set (redis://host:6379/0): the roles share it"
    return None


async def dependencies_problem(settings: Settings) -> str | None:
    """Does PostgreSQL answer (its schema is brought up to date here, once, so that the roles
    do not race to migrate it), and Redis?"""
    import redis.asyncio as redis

    from chatguard.errors import StoreUnavailableError
    from chatguard.storage import SqlStore

    store = SqlStore(settings.database_url)
    try:
        await store.start()
    except StoreUnavailableError:
        return "PostgreSQL at DATABASE_URL does not answer (or the schema cannot be migrated)"
    finally:
        await store.close()
    assert settings.redis_url is not None
    client = redis.from_url(settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        await client.ping()
    except (redis.RedisError, OSError):
        return "Redis at REDIS_URL does not answer"
    finally:
        await client.aclose()
    return None


def service_env(environ: Mapping[str, str], settings: Settings) -> dict[str, str]:
    """The environment every role starts with: this one, with ROLE_TRANSPORT=redis unless it
    says otherwise, plus SERVICE_API_KEY from ADMIN_API_KEY when only the latter is set (the
    api role's calls need a key as soon as keys exist)."""
    env = dict(environ)
    # The roles hand each other their work on Redis Streams unless told to call over HTTP.
    env.setdefault("ROLE_TRANSPORT", "redis")
    if settings.service_api_key is None and settings.admin_api_key is not None:
        env["SERVICE_API_KEY"] = settings.admin_api_key.get_secret_value()
    return env


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


class _StopFlag:
    """Set by SIGINT or SIGTERM; callable, so the supervisor's loops can poll it."""

    def __init__(self) -> None:
        self.reason = ""

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._set)
        signal.signal(signal.SIGTERM, self._set)

    def _set(self, signum: int, _frame: object) -> None:
        self.reason = "interrupted" if signum == signal.SIGINT else "terminated"

    def __call__(self) -> bool:
        return bool(self.reason)
