"""The principal a request acts as: whose key it is and what it may do."""

from __future__ import annotations

from dataclasses import dataclass

from chatguard.auth.scopes import Scope
from chatguard.errors import PermissionDeniedError

#: The owner recorded for requests in open local mode (no keys exist).
LOCAL_OWNER = "local"


@dataclass(frozen=True, slots=True)
class Principal:
    """`owner` is recorded as the actor of what the principal does (audit log, review
    resolutions). `scopes` are the effective scopes (implications included). `key_id` is None
    for the open local mode and for the bootstrap key of ADMIN_API_KEY."""

    owner: str
    scopes: frozenset[Scope]
    may_assert_roles: bool = False
    key_id: str | None = None
    rate_per_s: float | None = None  # the key's own request rate; None: the default

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes

    @property
    def is_local(self) -> bool:
        """True in open local mode: nobody authenticated."""
        return self.key_id is None and self.owner == LOCAL_OWNER


def require_scope(principal: Principal, scope: Scope) -> None:
    """The one rule of every operation: the principal holds `scope` (403 otherwise)."""
    if not principal.has(scope):
        raise PermissionDeniedError(
            f"this operation needs a key with the {scope.value} scope; this key has "
            + (", ".join(sorted(s.value for s in principal.scopes)) or "none")
        )


def require_role_assertion(principal: Principal, *, asserted: bool) -> None:
    """Exempt roles (`roles` in a message) lift moderation, so only keys made with
    `--assert-roles` may send them; nobody may in open local mode."""
    if asserted and not principal.may_assert_roles:
        raise PermissionDeniedError(
            "roles are honoured only from an API key made with --assert-roles "
            "(chatguard keys create ... --assert-roles); send the message without roles "
            "or use such a key"
        )
