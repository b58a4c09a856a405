"""`chatguard events-schema`: write the events' JSON Schema (docs/events.schema.json), or with
`--check` exit 1 when the committed file is out of date."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("events-schema", help="write or check the events' JSON Schema")
    from chatguard.events.schema import add_arguments

    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chatguard.events import schema

    return schema.run(args)
