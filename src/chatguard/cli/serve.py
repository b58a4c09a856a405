"""`chatguard serve`: the embedded server (API, storage and every enabled stage in one process).

On a loopback address with no API keys it runs open to local callers; on any other address it
refuses to start until an admin key exists (docs/security.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from chatguard.config import Settings


def register(sub: Any) -> None:
    parser = sub.add_parser("serve", help="run the moderation server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
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
    from chatguard.api import create_app
    from chatguard.runtime import tune_gc_for_serving

    app = create_app(settings)
    # Everything made so far lives as long as the process: out of the collector's sight.
    tune_gc_for_serving(settings.gc_young_threshold)
    print(f"chatguard {__version__} serving on http://{args.host}:{args.port} (docs at /docs)")
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        access_log=settings.debug,
    )
    return 0
