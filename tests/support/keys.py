"""API keys made straight in a test database, and the headers that send them."""

from __future__ import annotations

from collections.abc import Iterable

from chatguard.auth import ApiKeyStore
from chatguard.storage import SqlStore


async def make_key(
    database_url: str,
    *,
    owner: str,
    scopes: Iterable[str],
    assert_roles: bool = False,
    rate: float | None = None,
    revoked: bool = False,
) -> str:
    """A key in the database at `database_url` (migrated first); returns its secret."""
    store = SqlStore(database_url)
    try:
        await store.start()
        keys = ApiKeyStore(engine=store.engine)
        made = await keys.create(
            owner=owner, scopes=scopes, may_assert_roles=assert_roles, rate_per_s=rate
        )
        if revoked:
            await keys.revoke(made.key.key_id)
        return made.secret
    finally:
        await store.close()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
