"""Shared helpers of the filter tests (plain module, imported by path-relative name)."""

from __future__ import annotations

import json
from pathlib import Path

from chatguard.domain import Message, Role
from chatguard.filter.detection import FilterInput, prepare

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Samples of the data folder the filter tests read (the first 3,000 lines of each chat log).
DATA = REPO_ROOT / "tests" / "fixtures" / "data"


def item(text: str, *, user: str = "u1", channel: str = "c1", at: float = 1_000.0,
         stateless: bool = False, roles: frozenset[Role] = frozenset()) -> FilterInput:  # fmt: skip
    message = Message(text=text, user_id=user, channel_id=channel, received_at=at, roles=roles)
    return prepare(message, context={"stateless": True} if stateless else None)


def read_jsonl(name: str) -> list[dict]:
    with (DATA / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
