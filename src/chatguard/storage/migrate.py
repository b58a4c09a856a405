"""Bring a database to the newest schema with the Alembic migrations shipped in the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    def _upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The schema revision the database is at (None: never migrated)."""

    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_current)


def head_revision() -> str:
    """The newest revision shipped in the package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def migrate(url: str) -> tuple[str | None, str | None]:
    """Bring the database at `url` to the newest schema; (revision before, revision after).
    Idempotent: a database at the head is left as it is. Raises `StoreUnavailableError`
    when the database cannot be reached."""
    from chatguard.storage.guard import unavailable_on_failure
    from chatguard.storage.privacy import private_engine

    engine = private_engine(url)
    try:
        async with unavailable_on_failure():
            before = await current_revision(engine)
            await upgrade(engine)
            return before, await current_revision(engine)
    finally:
        await engine.dispose()


async def check(url: str) -> str | None:
    """The revision the database at `url` is at, changing nothing."""
    from chatguard.storage.guard import unavailable_on_failure
    from chatguard.storage.privacy import private_engine

    engine = private_engine(url)
    try:
        async with unavailable_on_failure():
            return await current_revision(engine)
    finally:
        await engine.dispose()
