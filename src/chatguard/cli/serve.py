"""`chatguard serve`: the embedded server (API, storage and every enabled stage in one process)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("serve", help="run the moderation server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from chatguard import __version__
    from chatguard.api import create_app
    from chatguard.config import configure_logging, load_settings
    from chatguard.runtime import tune_gc_for_serving

    settings = load_settings()
    configure_logging(settings)
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
