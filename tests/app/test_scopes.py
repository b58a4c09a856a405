"""The scope rules hold in the application layer itself, for every adapter: each use case
refuses a principal without its scope before doing anything, and accepts one with it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from chatguard.app import Application, AuditQuery, connector_principal, local_admin
from chatguard.auth import Principal, Scope
from chatguard.decisions.records import ReviewStatus
from chatguard.domain import Assessment, Route
from chatguard.errors import NotFoundError, PermissionDeniedError
from tests.app.conftest import ADMIN, INGEST, MODERATOR, NOBODY, held, message

Operation = Callable[[Application, Principal, str], Awaitable[Any]]


async def _feed(app: Application, who: Principal, _: str) -> None:
    await app.feed.subscribe(who).aclose()  # type: ignore[attr-defined]


async def _decide(app: Application, who: Principal, _: str) -> Any:
    msg = message("hello")
    return await app.decisions.decide(who, msg, Assessment(msg.id, {}, Route.ALLOW, "rules"))


#: Every use case and the scope it needs (the item id is a held message's).
OPERATIONS: list[tuple[str, Scope, Operation]] = [
    ("moderate", Scope.INGEST, lambda a, p, _: a.moderation.moderate(p, message("hi"))),
    ("moderate-many", Scope.INGEST, lambda a, p, _: a.moderation.moderate_many(p, [message("x")])),
    ("classify", Scope.INGEST, lambda a, p, _: a.moderation.classify(p, ["hello"])),
    ("decide", Scope.ADMIN, _decide),
    ("review-items", Scope.MODERATOR, lambda a, p, _: a.review.items(p)),
    ("review-item", Scope.MODERATOR, lambda a, p, i: a.review.item(p, i)),
    ("review-labels", Scope.MODERATOR, lambda a, p, _: a.review.labels(p)),
    ("review-approve", Scope.MODERATOR, lambda a, p, i: a.review.approve(p, i)),
    ("review-deny", Scope.MODERATOR, lambda a, p, i: a.review.deny(p, i)),
    ("policy-get", Scope.MODERATOR, lambda a, p, _: a.policies.get(p, "lobby")),
    ("policy-presets", Scope.MODERATOR, lambda a, p, _: a.policies.presets(p)),
    ("policy-validate", Scope.MODERATOR, lambda a, p, _: a.policies.validate(p, {})),
    ("policy-versions", Scope.MODERATOR, lambda a, p, _: a.policies.versions(p, "lobby")),
    ("policy-update", Scope.ADMIN, lambda a, p, _: a.policies.update(p, "lobby", {})),
    ("policy-reset", Scope.ADMIN, lambda a, p, _: a.policies.reset(p, "lobby")),
    ("user-standing", Scope.MODERATOR, lambda a, p, _: a.users.standing(p, "lobby", "viewer")),
    ("audit", Scope.MODERATOR, lambda a, p, _: a.audit.entries(p, AuditQuery())),
    ("stats-summary", Scope.MODERATOR, lambda a, p, _: a.stats.summary(p)),
    ("feed", Scope.MODERATOR, _feed),
    ("erase-user", Scope.ADMIN, lambda a, p, _: a.erasure.erase_user(p, "lobby", "viewer")),
    ("keys-list", Scope.ADMIN, lambda a, p, _: a.keys.list(p)),
    ("keys-create", Scope.ADMIN, lambda a, p, _: a.keys.create(p, owner="x", scopes=["ingest"])),
    ("dead-letters", Scope.MODERATOR, lambda a, p, _: a.webhooks.dead_letters(p)),
]
PRINCIPALS = {"none": NOBODY, "ingest": INGEST, "moderator": MODERATOR, "admin": ADMIN}


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The rules are the database's business nowhere: SQLite alone keeps this table quick."""
    return sqlite_url


@pytest.mark.parametrize(("name", "scope", "operation"), OPERATIONS, ids=[o[0] for o in OPERATIONS])
async def test_each_use_case_needs_its_scope(
    app: Application, name: str, scope: Scope, operation: Operation
) -> None:
    for who, principal in PRINCIPALS.items():
        item_id = await held(app, channel=f"room-{who}")
        if principal.has(scope):
            await operation(app, principal, item_id)  # no PermissionDeniedError
        else:
            with pytest.raises(PermissionDeniedError, match=f"needs a key with the {scope.value}"):
                await operation(app, principal, item_id)


async def test_an_ingest_principal_cannot_resolve_a_review(app: Application) -> None:
    item_id = await held(app)
    for verb in (app.review.approve, app.review.deny):
        with pytest.raises(PermissionDeniedError):
            await verb(INGEST, item_id)
    item = await app.review.item(MODERATOR, item_id)
    assert item.status is ReviewStatus.PENDING and item.resolved_by is None
    assert await app.review.labels(MODERATOR, channel_id="lobby") == []


async def test_a_moderator_cannot_change_a_policy_or_erase_a_user(app: Application) -> None:
    await app.moderation.moderate(INGEST, message("kys loser"))
    with pytest.raises(PermissionDeniedError):
        await app.policies.update(MODERATOR, "lobby", {"preset": "strict"})
    with pytest.raises(PermissionDeniedError):
        await app.erasure.erase_user(MODERATOR, "lobby", "viewer")
    assert (await app.policies.get(MODERATOR, "lobby")).version == 0
    assert len((await app.users.standing(MODERATOR, "lobby", "viewer")).strikes) == 1


async def test_a_retry_of_a_dead_letter_needs_the_admin_scope(app: Application) -> None:
    with pytest.raises(PermissionDeniedError):
        await app.webhooks.retry(MODERATOR, "0123456789ab")


async def test_revoking_a_key_needs_the_admin_scope_and_then_works(app: Application) -> None:
    made = await app.keys.create(ADMIN, owner="bot", scopes=["ingest"])
    with pytest.raises(PermissionDeniedError):
        await app.keys.revoke(MODERATOR, made.key.key_id)
    assert not (await app.keys.list(ADMIN))[0].revoked
    assert (await app.keys.revoke(ADMIN, made.key.key_id)).revoked
    with pytest.raises(NotFoundError):
        await app.keys.revoke(ADMIN, "0123456789ab")


def test_the_command_line_is_a_local_administrator() -> None:
    admin = local_admin()
    assert admin.owner.startswith("cli:") and admin.key_id is None
    assert {Scope.ADMIN, Scope.MODERATOR, Scope.INGEST} <= admin.scopes
    assert not admin.may_assert_roles  # the command line sends no roles


def test_a_connector_feeds_chat_with_roles_and_follows_the_feed_but_administers_nothing() -> None:
    bot = connector_principal("irc")
    assert bot.owner == "connector:irc" and bot.may_assert_roles
    assert bot.has(Scope.INGEST) and bot.has(Scope.MODERATOR) and not bot.has(Scope.ADMIN)
