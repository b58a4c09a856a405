"""`chatguard serve`: the embedded server (API, storage and every enabled stage in one process),
or with `--role` one role of the distributed shape (docs/roles.md).

On a loopback address with no API keys it runs open to local callers; on any other address it
refuses to start until an admin key exists (docs/security.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from chatguard.config import Settings
from chatguard.roles import DEFAULT_PORTS, ROLES


def register(sub: Any) -> None:
    parser = sub.add_parser("serve", help="run the moderation server (or one role of it)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=None, help="default: 8000, or the role's port (docs/roles.md)"
    )
    parser.add_argument(
        "--role",
        choices=ROLES,
        default=None,
        help="run one role of the distributed shape; default: the embedded all-in-one server",
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="API processes sharing the port (default 1; at most one per core pays off). "
        "`auto`: one per core when Redis holds what they must share (REDIS_URL, "
        "EVENT_BUS=redis, SPAM_STATE=redis), else 1",
    )
    parser.set_defaults(func=run)


AUTO = "auto"


def _workers(value: str) -> int | str:
    if value == AUTO:
        return AUTO
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of workers: {value!r}") from None


def usable_cores() -> int:
    """The cores this process may run on."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def auto_workers(settings: Settings, cores: int) -> tuple[int, str]:
    """`--workers auto`: one worker per core, but only when the workers share what a single
    process keeps to itself (docs/performance.md#several-api-processes): the rate limits and
    spam windows (Redis) and the live decision feed (the Redis event bus). Otherwise one,
    and why."""
    missing = [
        name
        for name, shared in (
            ("REDIS_URL", settings.redis_url is not None),
            ("EVENT_BUS=redis", settings.event_bus == "redis"),
            ("SPAM_STATE=redis", settings.spam_state == "redis"),
        )
        if not shared
    ]
    if missing:
        return 1, f"1 worker: without {', '.join(missing)} the workers would not share state"
    return max(1, cores), f"{max(1, cores)} workers, one per core"


async def exposure_problem(settings: Settings) -> str | None:
    """Why serving on `settings.bind_host` is refused, or None (reads the key table)."""
    from chatguard.auth import ApiKeyStore, Authenticator
    from chatguard.auth.authenticator import is_loopback
    from chatguard.storage import SqlStore

    if is_loopback(settings.bind_host) or settings.admin_api_key is not None:
        return None
    store = SqlStore(settings.database_url)
    try:
        await store.start()
        authenticator = Authenticator(store=ApiKeyStore(engine=store.engine))
        return await authenticator.exposure_problem(settings.bind_host)
    finally:
        await store.close()


def run(args: argparse.Namespace) -> int:
    from chatguard.config import configure_logging, load_settings

    # The app learns its address from the setting: it decides whether it may run open.
    settings = load_settings(bind_host=args.host)
    configure_logging(settings)
    # Checked before the app (models, stages) is loaded, so a refusal comes at once.
    problem = asyncio.run(exposure_problem(settings))
    if problem is not None:
        print(f"chatguard: {problem}", file=sys.stderr)
        return 2

    if args.workers == AUTO:
        cores = usable_cores() if args.role is None else 1  # a role runs in one process
        args.workers, why = auto_workers(settings, cores)
        print(f"chatguard: --workers auto: {why}", file=sys.stderr)
    if args.workers < 1:
        print("chatguard: --workers must be 1 or more", file=sys.stderr)
        return 2
    if args.workers > 1:
        if args.role is not None:
            print("chatguard: --workers runs the embedded server only", file=sys.stderr)
            return 2
        shared_port = args.port if args.port is not None else DEFAULT_PORTS["api"]
        return serve_workers(settings, args.host, shared_port, args.workers)

    import uvicorn

    from chatguard import __version__
    from chatguard.runtime import tune_gc_for_serving, tune_switch_interval

    role: str | None = args.role
    port: int = args.port if args.port is not None else DEFAULT_PORTS[role or "api"]
    if role is None:
        from chatguard.api import create_app

        app = create_app(settings)
        what = ""
    else:
        from chatguard.api.roles import create_role_app

        app = create_role_app(role, settings)
        what = f" {role} role"
    # Everything made so far lives as long as the process: out of the collector's sight.
    tune_gc_for_serving(settings.gc_young_threshold)
    tune_switch_interval()
    print(
        f"chatguard {__version__}{what} serving on http://{args.host}:{port} (docs at /docs)",
        flush=True,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=settings.debug,
    )
    return 0


def serve_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """Several API processes on one port (uvicorn's workers: one listening socket, the
    kernel spreads the connections). The schema is migrated once here, before any worker
    starts, so they do not race to create it; each worker then runs the whole embedded
    service. What is per process: docs/performance.md#several-api-processes."""
    import os

    import uvicorn

    from chatguard import __version__
    from chatguard.errors import StoreUnavailableError
    from chatguard.storage.migrate import migrate

    try:
        asyncio.run(migrate(settings.database_url))
    except StoreUnavailableError as exc:
        # As with one process: serving goes on and each worker migrates when it can.
        print(f"chatguard: not migrated at start ({exc})", file=sys.stderr)
    if settings.redis_url is None:
        print(
            f"chatguard: {workers} workers without REDIS_URL: rate limits and spam windows "
            "are counted per worker",
            file=sys.stderr,
        )
    # The workers read their settings from the environment, the address included.
    os.environ["BIND_HOST"] = host
    print(
        f"chatguard {__version__} serving on http://{host}:{port} with {workers} workers "
        "(docs at /docs)"
    )
    uvicorn.run(
        "chatguard.cli.serve:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=settings.debug,
    )
    return 0


def worker_app() -> Any:
    """The app of one worker process (`serve --workers N`)."""
    from chatguard.api import create_app
    from chatguard.config import load_settings
    from chatguard.runtime import tune_gc_for_serving, tune_switch_interval

    settings = load_settings()
    app = create_app(settings)
    tune_gc_for_serving(settings.gc_young_threshold)
    tune_switch_interval()
    return app
