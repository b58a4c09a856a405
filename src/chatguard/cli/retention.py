"""`chatguard retention`: show how much stored message text is past RETENTION_DAYS, and with
`--apply` delete it now (the server also does so every RETENTION_INTERVAL_S)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "retention", help="delete message text older than RETENTION_DAYS (dry run by default)"
    )
    parser.add_argument("--apply", action="store_true", help="delete it (default: only count)")
    parser.add_argument(
        "--days", type=int, default=None, help="override RETENTION_DAYS for this run (>= 1)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chatguard.app import local_admin
    from chatguard.app.erasure import Retention
    from chatguard.config import configure_logging, load_settings
    from chatguard.retention import RetentionJob, RetentionReport
    from chatguard.storage import SqlStore

    settings = load_settings()
    configure_logging(settings)
    days = args.days if args.days is not None else settings.retention_days
    if days < 1:
        print("retention is off (RETENTION_DAYS=0 keeps text forever); pass --days N to sweep")
        return 0 if args.days is None else 2

    async def sweep() -> RetentionReport:
        store = SqlStore(settings.database_url)
        await store.start()
        try:
            retention = Retention(job=RetentionJob(engine=store.engine, days=days))
            admin = local_admin()
            return await (retention.sweep(admin) if args.apply else retention.due(admin))
        finally:
            await store.close()

    report = asyncio.run(sweep())
    verb = "deleted" if args.apply else "would delete (dry run; --apply to delete)"
    print(f"text older than {days} days: {verb}")
    print(f"  messages:      {report.messages}")
    print(f"  decisions:     {report.decisions}")
    print(f"  review items:  {report.review_items}")
    print(f"  review labels: {report.review_labels}")
    return 0
