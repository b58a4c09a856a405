"""Channel policies through the application layer: every change is a version recorded with its
actor; validation names the field; presets are listed resolved."""

from __future__ import annotations

import pytest

from chatguard.app import Application
from chatguard.errors import InvalidPolicyError, NotFoundError
from tests.app.conftest import ADMIN, INGEST, MODERATOR, message


async def test_an_update_is_a_version_by_its_actor_and_changes_decisions(
    app: Application,
) -> None:
    before = await app.moderation.moderate(INGEST, message("well fuck that", channel="kids1"))
    assert before.response["action"] == "hold"
    resolved = await app.policies.update(ADMIN, "kids1", {"preset": "kids"}, reason="family stream")
    assert (resolved.version, resolved.policy.name) == (1, "kids")
    [version] = await app.policies.versions(MODERATOR, "kids1")
    assert (version.actor, version.reason, version.document) == (
        "owner",
        "family stream",
        {"preset": "kids"},
    )
    assert (await app.policies.version(MODERATOR, "kids1", 1)).version == 1
    after = await app.moderation.moderate(INGEST, message("well fuck that", channel="kids1"))
    assert after.response["action"] == "delete"
    reset = await app.policies.reset(ADMIN, "kids1", reason="back")
    assert (reset.version, reset.override) == (2, None)
    assert (await app.policies.get(MODERATOR, "kids1")).version == 2


async def test_an_invalid_override_names_the_field_and_stores_nothing(app: Application) -> None:
    with pytest.raises(InvalidPolicyError, match="fail_mode"):
        await app.policies.validate(MODERATOR, {"fail_mode": "maybe"})
    with pytest.raises(InvalidPolicyError, match="fail_mode"):
        await app.policies.update(ADMIN, "lobby", {"fail_mode": "maybe"})
    assert await app.policies.versions(MODERATOR, "lobby") == []
    with pytest.raises(NotFoundError):
        await app.policies.version(MODERATOR, "lobby", 1)


async def test_the_presets_are_listed_resolved(app: Application) -> None:
    catalog = await app.policies.presets(MODERATOR)
    assert {"default", "gaming", "kids"} <= set(catalog.presets)
    assert catalog.presets["kids"].name == "kids"
