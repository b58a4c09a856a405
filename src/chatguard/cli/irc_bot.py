"""`chatguard irc-bot`: moderate IRC (or Twitch) chat live with the embedded service."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from typing import Any

from chatguard.errors import ConfigurationError

MAX_BACKOFF_S = 60.0


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
    parser.add_argument(
        "--once", action="store_true", help="exit when the connection ends instead of reconnecting"
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
    from chatguard.connectors.irc import IrcConnector, IrcError
    from chatguard.connectors.runner import run_connector
    from chatguard.service import ModerationService

    host, port = parse_server(args.server)
    settings = load_settings()
    configure_logging(settings)
    password = os.environ.get(args.password_env)
    service = ModerationService.from_settings(settings)

    def connector() -> IrcConnector:
        return IrcConnector(
            host=host,
            port=port,
            nick=args.nick,
            channels=args.channel,
            password=SecretStr(password) if password else None,
            twitch=args.twitch,
            tls=args.tls,
        )

    async def reconnecting() -> int:
        delay = 1.0
        while True:
            started = time.monotonic()
            try:
                loop = await run_connector(service, connector())
                print(f"disconnected: {loop.moderated} moderated, {loop.enforced} enforced")
            except IrcError as exc:  # refused: nick taken, bad password; retrying won't help
                print(f"chatguard irc-bot: {exc}", file=sys.stderr)
                return 1
            except (OSError, TimeoutError) as exc:
                print(f"cannot reach {host}:{port} ({type(exc).__name__})", file=sys.stderr)
            if args.once:
                return 0
            # Back off while the server stays away; start over after a long session.
            delay = 1.0 if time.monotonic() - started > MAX_BACKOFF_S else delay
            print(f"reconnecting in {delay:g} s", file=sys.stderr, flush=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)

    async def main() -> int:
        # Ctrl-C and SIGTERM stop the bot here rather than by cancelling the whole run, which
        # a connection attempt ending in the same turn of the loop could swallow: the work is
        # cancelled until it has ended, then the service closes.
        stop = asyncio.Event()
        received: list[int] = []

        def asked_to_stop(signum: int) -> None:
            received.append(signum)
            stop.set()

        running = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            running.add_signal_handler(signum, asked_to_stop, signum)
        await service.start()
        try:
            work = asyncio.create_task(reconnecting(), name="irc-bot")
            asked = asyncio.create_task(stop.wait(), name="irc-bot-stop")
            await asyncio.wait({work, asked}, return_when=asyncio.FIRST_COMPLETED)
            asked.cancel()
            while not work.done():
                work.cancel()
                await asyncio.wait({work}, timeout=1.0)
            if received:
                return 128 + received[0]  # as a shell reports a process the signal ended
            return work.result()
        finally:
            await service.close()

    print(f"chatguard irc-bot: {args.nick} joining {', '.join(args.channel)} on {host}:{port}")
    return asyncio.run(main())
