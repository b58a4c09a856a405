"""Who acts in the application layer, and the scope each kind of operation needs.

Every use case takes the acting `Principal` as its first argument and checks it here, so the
same rules hold for every adapter: the HTTP routes (which resolve the principal from an API key),
the CLI (a local administrator) and the chat connectors (a trusted local process).
"""

from __future__ import annotations

import getpass

from chatguard.auth import Principal, Scope, expand_scopes, require_scope

#: Moderating chat messages (and classifying bare text).
INGEST = Scope.INGEST
#: Reading records (policies, review queue, strikes, audit log, dead letters, the live feed)
#: and resolving review items.
MODERATE = Scope.MODERATOR
#: Changing policies, keys and stored data; deciding on an assessment made elsewhere.
ADMINISTER = Scope.ADMIN


def require(principal: Principal, scope: Scope) -> None:
    """403 (`PermissionDeniedError`) unless `principal` holds `scope`."""
    require_scope(principal, scope)


def local_admin(owner: str | None = None) -> Principal:
    """The command line's principal: whoever runs `chatguard` on this machine administers it
    (the database is theirs). Recorded as `cli:<os user>`. Roles are not trusted: the command
    line sends none."""
    return Principal(owner=owner or f"cli:{_os_user()}", scopes=expand_scopes([Scope.ADMIN]))


def connector_principal(name: str) -> Principal:
    """A chat connector's principal: it feeds chat in (with the roles the platform reports,
    which it may assert) and follows the decision feed to enforce review outcomes."""
    return Principal(
        owner=f"connector:{name}",
        scopes=frozenset({Scope.INGEST, Scope.MODERATOR}),
        may_assert_roles=True,
    )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"
