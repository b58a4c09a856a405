"""Fixtures of the application layer tests: a started service on a real database (SQLite and
PostgreSQL), the application around it, and principals of each scope."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chatguard.app import Application
from chatguard.auth import ApiKeyStore, Authenticator, Principal, Scope, expand_scopes
from chatguard.config import load_settings
from chatguard.domain import Message, Role
from chatguard.service import ModerationService


def principal(owner: str, *scopes: Scope, roles: bool = False) -> Principal:
    return Principal(owner=owner, scopes=expand_scopes(scopes), may_assert_roles=roles)


INGEST = principal("bot", Scope.INGEST)
MODERATOR = principal("mod_anna", Scope.MODERATOR)
ADMIN = principal("owner", Scope.ADMIN)
NOBODY = principal("nobody")


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[ModerationService]:
    # The rule stage alone: its scores are fixed ("well fuck that" is held for review).
    settings = load_settings(database_url=database_url, pipeline_stages="rules", _env_file=None)
    service = ModerationService.from_settings(settings)
    await service.start()
    yield service
    await service.close()


@pytest.fixture
def app(service: ModerationService) -> Application:
    assert service.store is not None
    authenticator = Authenticator(store=ApiKeyStore(engine=service.store.engine))
    return Application(service=service, authenticator=authenticator)


def message(
    text: str, *, user: str = "viewer", channel: str = "lobby", roles: frozenset[Role] = frozenset()
) -> Message:
    return Message(text=text, user_id=user, channel_id=channel, roles=roles)


async def held(app: Application, text: str = "well fuck that", *, channel: str = "lobby") -> str:
    """Moderate a message the rules hold for review; the review item's id."""
    outcome = await app.moderation.moderate(INGEST, message(text, channel=channel))
    assert outcome.response["action"] == "hold"
    [item] = await app.review.items(MODERATOR, channel_id=channel)
    return item.id
