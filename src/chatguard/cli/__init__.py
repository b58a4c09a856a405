"""The `chatguard` command line. Each subcommand lives in a module of this package that defines
`register(subparsers)`; `COMMAND_MODULES` lists them."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from chatguard import __version__
from chatguard.errors import ConfigurationError

COMMAND_MODULES = (
    "chatguard.cli.serve",
    "chatguard.cli.up",
    "chatguard.cli.keys",
    "chatguard.cli.moderate",
    "chatguard.cli.check_llm",
    "chatguard.cli.train",
    "chatguard.cli.train_semantic",
    "chatguard.cli.evaluate",
    "chatguard.cli.irc_bot",
    "chatguard.cli.retention",
    "chatguard.cli.events_schema",
    "chatguard.cli.migrate",
)

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatguard", description="Real-time moderation for streaming chat."
    )
    parser.add_argument("--version", action="version", version=f"chatguard {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Command = args.func
    try:
        return func(args)
    except ConfigurationError as exc:
        print(f"chatguard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
