"""The distributed shape: the roles one `chatguard` image runs as, their default ports, the
adapters through which one role calls another (`remote.py`, `remote_decider.py`), the JSON
form those calls carry (`wire.py`) and the local supervisor behind `chatguard up`
(`supervisor.py`). See docs/roles.md."""

from __future__ import annotations

from typing import Final

#: Every role `chatguard serve --role` runs, in the order `chatguard up` starts them (the roles
#: others call come before their callers).
ROLES: Final = ("filter", "llm-worker", "decision", "simulator", "evaluator", "api")

#: Each role's port by default (the original design's: 8000 to 8004, plus the LLM workers).
DEFAULT_PORTS: Final = {
    "api": 8000,
    "filter": 8001,
    "simulator": 8002,
    "decision": 8003,
    "evaluator": 8004,
    "llm-worker": 8005,
}


class UnknownRoleError(ValueError):
    """A role name that is not one of `ROLES`."""


def require_role(name: str) -> str:
    if name not in ROLES:
        raise UnknownRoleError(f"unknown role {name!r}; roles: {', '.join(ROLES)}")
    return name
