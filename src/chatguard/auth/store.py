"""Stored API keys (the `api_keys` table): make, find, list and revoke them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from chatguard.auth import keys
from chatguard.auth.keys import ApiKey, NewKey
from chatguard.auth.scopes import Scope
from chatguard.auth.tables import ApiKeyRow
from chatguard.errors import InvalidInputError, NotFoundError
from chatguard.input_rules import identifier_problem

MAX_OWNER_CHARS = 128


class ApiKeyStore:
    def __init__(self, *, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def create(
        self,
        *,
        owner: str,
        scopes: Iterable[Scope | str],
        may_assert_roles: bool = False,
        rate_per_s: float | None = None,
    ) -> NewKey:
        """Make a key. The returned secret is the only copy: only its digest is stored."""
        owner = owner.strip()
        if not owner or len(owner) > MAX_OWNER_CHARS:
            raise InvalidInputError(f"owner must be 1 to {MAX_OWNER_CHARS} characters")
        problem = identifier_problem(owner)
        if problem is not None:
            raise InvalidInputError(f"owner {problem}")
        try:
            granted = tuple(sorted({Scope(s) for s in scopes}))
        except ValueError:
            raise InvalidInputError("scope must be ingest, moderator or admin") from None
        if not granted:
            raise InvalidInputError("a key needs at least one scope")
        if rate_per_s is not None and not rate_per_s > 0:
            raise InvalidInputError("rate must be a positive number of requests per second")
        key_id, secret = keys.generate()
        row = ApiKeyRow(
            key_id=key_id,
            owner=owner,
            scopes=[s.value for s in granted],
            may_assert_roles=may_assert_roles,
            rate_per_s=rate_per_s,
            secret_sha256=keys.digest(secret),
            created_at=datetime.now(UTC),
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return NewKey(key=_record(row), secret=secret)

    async def lookup(self, key_id: str) -> tuple[ApiKey, str] | None:
        """The key and its stored digest, for verification."""
        async with self._sessions() as session:
            row = await session.get(ApiKeyRow, key_id)
            return (_record(row), row.secret_sha256) if row is not None else None

    async def get(self, key_id: str) -> ApiKey:
        found = await self.lookup(key_id)
        if found is None:
            raise NotFoundError(f"no API key {key_id!r}")
        return found[0]

    async def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        query = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.key_id)
        if not include_revoked:
            query = query.where(ApiKeyRow.revoked_at.is_(None))
        async with self._sessions() as session:
            return [_record(r) for r in await session.scalars(query)]

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key for good (revoking it again changes nothing)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.key_id == key_id, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        return await self.get(key_id)

    async def count(self) -> int:
        """Every key ever made, revoked ones included."""
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)

    async def has_admin(self) -> bool:
        """True when an unrevoked key holds the admin scope."""
        return any(Scope.ADMIN in k.scopes for k in await self.list(include_revoked=False))


def _record(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        key_id=row.key_id,
        owner=row.owner,
        scopes=tuple(Scope(s) for s in row.scopes),
        may_assert_roles=bool(row.may_assert_roles),
        rate_per_s=row.rate_per_s,
        created_at=_aware(row.created_at),
        revoked_at=_aware(row.revoked_at) if row.revoked_at is not None else None,
    )


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
