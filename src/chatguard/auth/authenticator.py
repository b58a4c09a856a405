"""Turns a presented key into a `Principal`, and knows whether the server may run open.

Verified keys are cached for `cache_ttl_s` so the hot path does not read the database per
request; a key revoked through this process is forgotten at once, one revoked elsewhere (the
CLI, another process) within the cache time.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import secrets
import time
from collections.abc import Callable

from pydantic import SecretStr

from chatguard.auth import keys
from chatguard.auth.principal import LOCAL_OWNER, Principal
from chatguard.auth.scopes import Scope, expand_scopes
from chatguard.auth.store import ApiKeyStore
from chatguard.errors import AuthenticationError, StoreUnavailableError
from chatguard.storage.guard import is_outage

#: The owner recorded for what the ADMIN_API_KEY does.
BOOTSTRAP_OWNER = "admin-api-key"
KEY_CACHE_TTL_S = 5.0
MAX_CACHED = 10_000
MAKE_ADMIN_KEY = "chatguard keys create --owner you --scope admin"


@functools.lru_cache(maxsize=1024)
def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost (with or without IPv6 brackets). Asked for the
    client address of every request in open local mode: remembered per address."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def local_principal() -> Principal:
    """What a local caller acts as in open mode: every scope, but roles are not trusted."""
    return _LOCAL


_LOCAL = Principal(owner=LOCAL_OWNER, scopes=expand_scopes([Scope.ADMIN]))


class Authenticator:
    def __init__(
        self,
        *,
        store: ApiKeyStore | None,
        bootstrap: SecretStr | None = None,
        cache_ttl_s: float = KEY_CACHE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._bootstrap = keys.digest(bootstrap.get_secret_value()) if bootstrap else None
        self.cache_ttl_s = cache_ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._counting: asyncio.Future[int] | None = None
        self._keys_exist: tuple[bool, float] | None = None
        self._exposed = False

    async def authenticate(self, token: str) -> Principal:
        """The principal of a presented key; AuthenticationError when it does not verify
        (unknown, revoked or malformed: the caller is told no more than that)."""
        presented = keys.digest(token)
        now = self._clock()
        cached = self._cache.get(presented)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            principal = await self._verify(token, presented)
        except Exception as exc:
            if not is_outage(exc):
                raise
            # The database is away: a key verified before keeps working; others wait.
            if cached is not None:
                return cached[0]
            raise StoreUnavailableError(
                "API keys cannot be checked while the database is away"
            ) from None
        if principal is None:
            raise AuthenticationError("the API key is not valid")
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[presented] = (principal, now + self.cache_ttl_s)
        return principal

    async def _verify(self, token: str, presented: str) -> Principal | None:
        if self._bootstrap is not None and secrets.compare_digest(presented, self._bootstrap):
            return Principal(owner=BOOTSTRAP_OWNER, scopes=expand_scopes([Scope.ADMIN]))
        key_id = keys.key_id_of(token)
        if key_id is None or self.store is None:
            return None
        found = await self.store.lookup(key_id)
        if found is None:
            return None
        key, stored = found
        if key.revoked or not secrets.compare_digest(presented, stored):
            return None
        return Principal(
            owner=key.owner,
            scopes=expand_scopes(key.scopes),
            may_assert_roles=key.may_assert_roles,
            key_id=key.key_id,
            rate_per_s=key.rate_per_s,
        )

    def forget(self, key_id: str) -> None:
        """Drop a revoked key from the cache."""
        for digest, (principal, _) in list(self._cache.items()):
            if principal.key_id == key_id:
                del self._cache[digest]
        self._keys_exist = None

    def keys_changed(self) -> None:
        """A key was made here: ask the store again whether keys exist."""
        self._keys_exist = None

    async def keys_exist(self) -> bool:
        """True once any key was ever made (revoking every key does not open the server
        again) or ADMIN_API_KEY is set. Cached like verified keys."""
        if self._bootstrap is not None:
            return True
        now = self._clock()
        if self._keys_exist is not None and self._keys_exist[1] > now:
            return self._keys_exist[0]
        try:
            exist = self.store is not None and await self._count_once() > 0
        except Exception as exc:
            if not is_outage(exc):
                raise
            # The database is away: what was known stands; never known, a server exposed
            # beyond loopback requires keys (which then wait for the database) and a local one
            # stays open to local callers only.
            if self._keys_exist is not None:
                return self._keys_exist[0]
            return self._exposed
        # Once keys exist they stay (rows are never deleted): no need to ask again.
        self._keys_exist = (exist, float("inf") if exist else now + self.cache_ttl_s)
        return exist

    async def _count_once(self) -> int:
        """The store's count of keys, one query for every request that asks while it runs
        (in open mode they all find the cached answer expired at the same moment)."""
        assert self.store is not None
        counting = self._counting
        if (
            counting is None
            or counting.done()
            or counting.get_loop() is not asyncio.get_running_loop()
        ):
            counting = asyncio.ensure_future(self.store.count())
            self._counting = counting
            counting.add_done_callback(self._counted)
        return await asyncio.shield(counting)

    def _counted(self, counting: asyncio.Future[int]) -> None:
        if self._counting is counting:
            self._counting = None
        if not counting.cancelled():
            counting.exception()  # retrieved: each waiter raises it on its own

    async def exposure_problem(self, bind_host: str) -> str | None:
        """Why serving on `bind_host` is refused, or None. Any address but loopback needs an
        unrevoked admin key (or ADMIN_API_KEY), so a fresh install is never open to a network."""
        self._exposed = not is_loopback(bind_host)
        if is_loopback(bind_host) or self._bootstrap is not None:
            return None
        try:
            if self.store is not None and await self.store.has_admin():
                return None
        except Exception as exc:
            if not is_outage(exc):
                raise
            return None  # cannot tell yet: keys are required and checked once it answers
        return (
            f"refusing to serve on {bind_host}: no admin API key exists, and without keys the "
            f"server would be open to anyone who can reach it. Make one with "
            f"`{MAKE_ADMIN_KEY}` (or set ADMIN_API_KEY), or bind to 127.0.0.1"
        )
