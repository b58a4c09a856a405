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
    parser.set_defaults(func=run)


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

    import uvicorn

    from chatguard import __version__
    from chatguard.runtime import tune_gc_for_serving

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
