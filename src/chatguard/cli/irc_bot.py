"""`chatguard irc-bot`: moderate IRC (or Twitch) chat live with the embedded service."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from chatguard.errors import ConfigurationError


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "irc-bot", help="join IRC/Twitch channels, moderate every message, enforce decisions"
    )
    parser.add_argument("--server", required=True, help="HOST:PORT, e.g. irc.chat.twitch.tv:6697")
    parser.add_argument("--nick", required=True)
    parser.add_argument(
        "--channel", action="append", required=True, help="a channel to join (repeatable)"
    )
    parser.add_argument("--twitch", action="store_true", help="use Twitch tags and commands")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument(
        "--password-env",
        default="IRC_PASSWORD",
        help="environment variable holding the server password (Twitch: oauth:...)",
    )
    parser.set_defaults(func=run)


def parse_server(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"--server: expected HOST:PORT, got {value!r}")
    return host, int(port)


def run(args: argparse.Namespace) -> int:
    from pydantic import SecretStr

    from chatguard.config import configure_logging, load_settings
    from chatguard.connectors.irc import IrcConnector
    from chatguard.connectors.runner import run_connector
    from chatguard.service import ModerationService

    host, port = parse_server(args.server)
    settings = load_settings()
    configure_logging(settings)
    password = os.environ.get(args.password_env)
    connector = IrcConnector(
        host=host,
        port=port,
        nick=args.nick,
        channels=args.channel,
        password=SecretStr(password) if password else None,
        twitch=args.twitch,
        tls=args.tls,
    )
    service = ModerationService.from_settings(settings)

    async def main() -> None:
        await service.start()
        try:
            loop = await run_connector(service, connector)
            print(f"disconnected: {loop.moderated} moderated, {loop.enforced} enforced")
        finally:
            await service.close()

    print(f"chatguard irc-bot: {args.nick} joining {', '.join(args.channel)} on {host}:{port}")
    asyncio.run(main())
    return 0
