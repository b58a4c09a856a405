"""The three scopes a key can hold, and what each implies."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Scope(StrEnum):
    """`ingest` feeds messages in; `moderator` works the review queue and reads records;
    `admin` changes policies, keys and stored data."""

    INGEST = "ingest"
    MODERATOR = "moderator"
    ADMIN = "admin"


#: What each scope grants besides itself. Admin implies both others. Moderator does not imply
#: ingest: a moderator key (a person at a console) cannot inject chat messages, which would
#: give strikes to users and write the store; the bot or connector that feeds chat has its own.
IMPLIES: dict[Scope, frozenset[Scope]] = {
    Scope.INGEST: frozenset(),
    Scope.MODERATOR: frozenset(),
    Scope.ADMIN: frozenset({Scope.MODERATOR, Scope.INGEST}),
}


def expand_scopes(scopes: Iterable[Scope | str]) -> frozenset[Scope]:
    """The granted scopes with everything they imply."""
    granted = {Scope(s) for s in scopes}
    for scope in list(granted):
        granted |= IMPLIES[scope]
    return frozenset(granted)
