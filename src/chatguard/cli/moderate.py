"""`chatguard moderate TEXT`: moderate one message with the configured pipeline (through the
application layer, as the local administrator; nothing is stored)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("moderate", help="moderate one message and print the decision")
    parser.add_argument("text")
    parser.add_argument("--user", default="cli")
    parser.add_argument("--channel", default="cli")
    parser.add_argument("--json", action="store_true", help="print the full decision as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chatguard.app import Application, local_admin
    from chatguard.config import load_settings
    from chatguard.domain import Message
    from chatguard.service import ModerationService

    service = ModerationService.from_settings(load_settings(), with_store=False)

    async def moderate() -> dict[str, Any]:
        await service.start()
        try:
            message = Message(text=args.text, user_id=args.user, channel_id=args.channel)
            outcome = await Application(service=service).moderation.moderate(local_admin(), message)
            return outcome.response
        finally:
            await service.close()

    response = asyncio.run(moderate())
    if args.json:
        print(json.dumps(response, ensure_ascii=False))
    else:
        top = sorted(response["category_scores"].items(), key=lambda kv: kv[1], reverse=True)[:3]
        print(f"action:     {response['action']}")
        print(f"flagged:    {str(response['flagged']).lower()}")
        print(f"reason:     {response['reason']}")
        print(f"decided by: {response['decided_by']}")
        print("top scores: " + ", ".join(f"{k}={v:.3f}" for k, v in top))
    return 0 if response["approved"] else 1
