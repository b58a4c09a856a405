"""Moderation through the application layer: the stored answer on a repeat, roles only from a
principal that may assert them (refused before anything is stored), the stateless
classification and its limits."""

from __future__ import annotations

import pytest

from chatguard.app import Application
from chatguard.auth import Scope
from chatguard.domain import Role
from chatguard.errors import (
    InputTooLargeError,
    InvalidInputError,
    PermissionDeniedError,
    RateLimitedError,
)
from chatguard.ratelimit import RateLimiter
from chatguard.ratelimit.buckets import BucketSpec, InProcessBuckets
from chatguard.service import ModerationService
from tests.app.conftest import INGEST, message, principal


async def test_a_repeated_message_gets_the_stored_answer(
    app: Application, service: ModerationService
) -> None:
    first = message("kys loser")
    outcome = await app.moderation.moderate(INGEST, first)
    again = await app.moderation.moderate(INGEST, first)
    assert outcome.response["action"] == "delete" and not outcome.replayed
    assert again.replayed and again.response["action"] == "delete"
    assert service.store is not None and await service.store.count("messages") == 1


async def test_roles_need_a_principal_that_may_assert_them(
    app: Application, service: ModerationService
) -> None:
    vip = message("kys loser", roles=frozenset({Role.VIP}))
    with pytest.raises(PermissionDeniedError, match="--assert-roles"):
        await app.moderation.moderate_many(INGEST, [message("hi"), vip])
    assert service.store is not None and await service.store.count("messages") == 0
    connector = principal("connector", Scope.INGEST, roles=True)
    [outcome] = await app.moderation.moderate_many(connector, [vip])
    assert outcome.response["message_id"] == vip.id


async def test_classification_stores_nothing_and_keeps_its_limits(
    app: Application, service: ModerationService
) -> None:
    [clean, toxic] = await app.moderation.classify(INGEST, ["good game", "kys loser"])
    assert not clean.flagged and toxic.flagged
    assert service.store is not None and await service.store.count("messages") == 0
    with pytest.raises(InvalidInputError, match="must not be empty"):
        await app.moderation.classify(INGEST, [])
    limit = service.settings.max_batch_size
    with pytest.raises(InputTooLargeError, match=f"the limit is {limit}"):
        await app.moderation.classify(INGEST, ["hi"] * (limit + 1))


async def test_a_chat_user_past_their_rate_is_refused_before_anything_is_stored(
    service: ModerationService,
) -> None:
    limiter = RateLimiter(
        buckets=InProcessBuckets(),
        caller=BucketSpec(0, 0),
        user=BucketSpec(0.001, 2),  # two messages, then (almost) none
    )
    app = Application(service=service, user_rates=limiter)
    await app.moderation.moderate_many(INGEST, [message("one"), message("two")])
    with pytest.raises(RateLimitedError, match="one chat user"):
        await app.moderation.moderate(INGEST, message("three"))
    [outcome] = await app.moderation.moderate_many(INGEST, [message("hi", user="other")])
    assert outcome.response["action"] == "allow"
    assert service.store is not None and await service.store.count("messages") == 3


async def test_an_oversized_batch_is_refused_without_spending_the_users_rate(
    service: ModerationService,
) -> None:
    limiter = RateLimiter(
        buckets=InProcessBuckets(), caller=BucketSpec(0, 0), user=BucketSpec(0.001, 5)
    )
    app = Application(service=service, user_rates=limiter)
    limit = service.settings.max_batch_size
    with pytest.raises(InputTooLargeError, match=f"the limit is {limit}"):
        await app.moderation.moderate_many(INGEST, [message("hi")] * (limit + 1))
    [outcome] = await app.moderation.moderate_many(INGEST, [message("hello")])
    assert outcome.response["action"] == "allow"
