"""API key secrets: how they are made, recognised and verified.

A key reads `cg_<key id>_<secret>`: the `cg_` prefix makes a leaked key recognisable to secret
scanners, the 12-hex-digit key id finds the stored record without scanning, and the secret
holds 256 random bits. Only the SHA-256 of the whole key is stored; with that much entropy a
fast hash is enough (no password stretching is needed against guessing).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from chatguard.auth.scopes import Scope

PREFIX = "cg_"
KEY_ID_CHARS = 12
SECRET_BYTES = 32
_SECRET_CHARS = len(secrets.token_urlsafe(SECRET_BYTES))
KEY_LENGTH = len(PREFIX) + KEY_ID_CHARS + 1 + _SECRET_CHARS
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    owner: str
    scopes: tuple[Scope, ...]
    may_assert_roles: bool
    rate_per_s: float | None
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just made: the record and the secret, which is shown once and never stored."""

    key: ApiKey
    secret: str

    def __repr__(self) -> str:  # the secret never reaches a log through a repr
        return f"NewKey(key={self.key!r}, secret='***')"


def generate() -> tuple[str, str]:
    """A new (key id, full key)."""
    key_id = secrets.token_hex(KEY_ID_CHARS // 2)
    return key_id, f"{PREFIX}{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"


def digest(token: str) -> str:
    """The stored form of a key (SHA-256, hex)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def key_id_of(token: str) -> str | None:
    """The key id of a well-formed key, None for anything else (checked before any lookup)."""
    if len(token) != KEY_LENGTH or not token.startswith(PREFIX):
        return None
    key_id = token[len(PREFIX) : len(PREFIX) + KEY_ID_CHARS]
    if token[len(PREFIX) + KEY_ID_CHARS] != "_" or not set(key_id) <= _HEX:
        return None
    return key_id


def matches(token: str, stored_digest: str) -> bool:
    """Constant-time comparison of a presented key with a stored digest."""
    return secrets.compare_digest(digest(token), stored_digest)
