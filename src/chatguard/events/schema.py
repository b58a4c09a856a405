"""The published JSON Schema of the events and the stage forms (docs/events.schema.json).

Regenerate with `python -m chatguard.events.schema` (or `chatguard events-schema`);
`--check` exits 1 when the committed file differs from what the code defines.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from chatguard.events.model import SUPPORTED_VERSIONS, Event
from chatguard.events.stages import schema_of_stage_forms

#: Where the schema is published, from the repository's root.
SCHEMA_PATH = Path("docs/events.schema.json")
SCHEMA_ID = "https://chatguard.dev/schemas/events.schema.json"


def event_schema() -> dict[str, Any]:
    """The schema: `Event` (any event, discriminated by `type`), and under `$defs` each event
    and the stage forms `StageInput`, `StageResult`, `Assessment`."""
    schema = TypeAdapter(Event).json_schema(ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    for name, form in schema_of_stage_forms().items():
        defs.update(form.pop("$defs", {}))
        defs[name] = form
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "chatguard events",
        "description": "Every event, discriminated by `type`; `version` is the version of "
        "that type's form. Versions read: "
        + ", ".join(f"{k} {sorted(v)}" for k, v in sorted(SUPPORTED_VERSIONS.items())),
        **schema,
    }


def render() -> str:
    """The schema file's text (stable: sorted keys, two-space indent, final newline)."""
    return json.dumps(event_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check the events' JSON Schema.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", type=Path, default=SCHEMA_PATH)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")


def run(args: argparse.Namespace) -> int:
    text = render()
    path: Path = args.path
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date; run `chatguard events-schema`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
