"""`chatguard migrate`: bring the database at DATABASE_URL to the newest schema (Alembic
`upgrade head`). Idempotent; the server also migrates at start, so this is for deployments
that migrate once before starting several processes, and for checking where a database is."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("migrate", help="bring the database schema up to date")
    parser.add_argument(
        "--database-url", default=None, help="the database to migrate (default: DATABASE_URL)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if the database is not at the newest revision",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chatguard.config import configure_logging, load_settings
    from chatguard.errors import StoreUnavailableError
    from chatguard.storage.migrate import check, head_revision, migrate

    overrides = {"database_url": args.database_url} if args.database_url else {}
    settings = load_settings(**overrides)
    configure_logging(settings)
    head = head_revision()
    try:
        if args.check:
            current = asyncio.run(check(settings.database_url))
            print(f"database at revision {current or 'none'}; newest is {head}")
            return 0 if current == head else 1
        before, after = asyncio.run(migrate(settings.database_url))
    except StoreUnavailableError as exc:
        print(f"chatguard: {exc}", file=sys.stderr)
        return 1
    if before == after:
        print(f"database already at revision {after} (newest)")
    else:
        print(f"database migrated from revision {before or 'none'} to {after}")
    return 0
