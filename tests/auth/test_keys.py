"""API keys: the format, hashed storage, verification, scopes, revocation (at once in this
process, within the cache time elsewhere), the bootstrap key and the bind-address rule."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from chatguard.auth import ApiKeyStore, Authenticator, Scope, expand_scopes
from chatguard.auth import keys as key_format
from chatguard.auth.authenticator import is_loopback
from chatguard.config import load_settings
from chatguard.errors import AuthenticationError, ConfigurationError
from chatguard.storage import SqlStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    store = SqlStore(database_url)
    await store.start()
    yield store
    await store.close()


def test_admin_implies_the_others_and_moderator_does_not_imply_ingest() -> None:
    assert expand_scopes(["admin"]) == {Scope.ADMIN, Scope.MODERATOR, Scope.INGEST}
    assert expand_scopes(["moderator"]) == {Scope.MODERATOR}
    assert expand_scopes(["ingest", "moderator"]) == {Scope.INGEST, Scope.MODERATOR}


def test_the_key_format_is_recognised_before_any_lookup() -> None:
    key_id, secret = key_format.generate()
    assert secret.startswith(f"cg_{key_id}_") and key_format.key_id_of(secret) == key_id
    for wrong in ("", "Bearer x", secret[:-1], "xx" + secret[2:], secret.replace("_", "-", 2)):
        assert key_format.key_id_of(wrong) is None
    assert len({key_format.generate()[1] for _ in range(100)}) == 100


async def test_keys_are_stored_hashed_and_verify(store: SqlStore) -> None:
    keys = ApiKeyStore(engine=store.engine)
    made = await keys.create(owner="anna", scopes=["moderator"], may_assert_roles=True)
    assert made.secret not in repr(made)
    async with store.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM api_keys"))).all()
    assert made.secret not in str(rows) and key_format.digest(made.secret) in str(rows)

    auth = Authenticator(store=keys)
    principal = await auth.authenticate(made.secret)
    assert (principal.owner, principal.scopes, principal.may_assert_roles) == (
        "anna",
        {Scope.MODERATOR},
        True,
    )
    assert principal.key_id == made.key.key_id
    forged = made.secret[:-4] + ("AAAA" if not made.secret.endswith("AAAA") else "BBBB")
    for wrong in (forged, "cg_" + "0" * 12 + "_" + "x" * 43, "not-a-key"):
        with pytest.raises(AuthenticationError):
            await auth.authenticate(wrong)


async def test_revocation_is_immediate_here_and_within_the_cache_time_elsewhere(
    store: SqlStore,
) -> None:
    keys = ApiKeyStore(engine=store.engine)
    made = await keys.create(owner="bot", scopes=["ingest"])
    clock = Clock()
    here, elsewhere = Authenticator(store=keys, clock=clock), Authenticator(store=keys, clock=clock)
    await here.authenticate(made.secret)
    await elsewhere.authenticate(made.secret)
    await keys.revoke(made.key.key_id)
    here.forget(made.key.key_id)
    with pytest.raises(AuthenticationError):
        await here.authenticate(made.secret)
    await elsewhere.authenticate(made.secret)  # cached
    clock.now += 5.1
    with pytest.raises(AuthenticationError):
        await elsewhere.authenticate(made.secret)
    assert (await keys.get(made.key.key_id)).revoked


async def test_bind_address_rule(store: SqlStore) -> None:
    keys = ApiKeyStore(engine=store.engine)
    auth = Authenticator(store=keys)
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert await auth.exposure_problem(host) is None
    problem = await auth.exposure_problem("0.0.0.0")
    assert problem is not None and "chatguard keys create --owner you --scope admin" in problem
    await keys.create(owner="bot", scopes=["ingest"])
    assert await auth.exposure_problem("192.0.2.1") is not None
    admin = await keys.create(owner="ops", scopes=["admin"])
    assert await auth.exposure_problem("0.0.0.0") is None
    await keys.revoke(admin.key.key_id)
    assert await auth.exposure_problem("0.0.0.0") is not None
    bootstrap = Authenticator(store=keys, bootstrap=SecretStr("z" * 32))
    assert await bootstrap.exposure_problem("0.0.0.0") is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("localhost.evil.example", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_short_admin_key_is_refused_without_being_echoed() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(admin_api_key="tooshort-secret-value", _env_file=None)
    assert "ADMIN_API_KEY" in str(refused.value) and "32" in str(refused.value)
    assert "tooshort-secret-value" not in str(refused.value)
    settings = load_settings(admin_api_key="k" * 32, _env_file=None)
    assert "k" * 32 not in repr(settings)


@pytest.mark.parametrize("value", ["*", "console.example.org", "https://x.org/path"])
def test_cors_origins_must_be_origins(value: str) -> None:
    with pytest.raises(ConfigurationError, match="CORS_ORIGINS"):
        load_settings(cors_origins=value, _env_file=None)


async def test_migration_0003_goes_down_and_up_again(database_url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from tests.support.migrations import tables_down_and_up

    engine = create_async_engine(database_url)
    try:
        down, up = await tables_down_and_up(engine, "0002")
        assert "api_keys" not in down and "audit_log" in down
        assert "api_keys" in up
    finally:
        await engine.dispose()
