"""The review round trip through the application layer, on SQLite and PostgreSQL: a held
message, a moderator's verdict recorded as theirs, the label, the strike, the audit entry and
the event on the feed."""

from __future__ import annotations

import asyncio

import pytest

from chatguard.app import Application, AuditQuery
from chatguard.decisions.policy import ActionRule
from chatguard.decisions.records import ReviewStatus
from chatguard.domain import Action
from chatguard.errors import InvalidInputError, NotFoundError, ReviewStateError
from tests.app.conftest import MODERATOR, held


async def test_a_denial_is_the_moderators_and_leaves_a_label_a_strike_and_an_event(
    app: Application,
) -> None:
    item_id = await held(app)
    feed = app.feed.subscribe(MODERATOR, channel_id="lobby")
    next_event = asyncio.ensure_future(anext(feed))
    await asyncio.sleep(0)  # listening before the verdict
    try:
        rule = ActionRule(action=Action.TIMEOUT, duration_s=300)
        resolved = await app.review.deny(MODERATOR, item_id, reason="not here", action=rule)
        event = await asyncio.wait_for(next_event, 5)
    finally:
        next_event.cancel()
        await feed.aclose()  # type: ignore[attr-defined]
    assert (resolved.status, resolved.resolved_by) == (ReviewStatus.DENIED, "mod_anna")
    assert (event["type"], event["action"], event["channel_id"]) == (
        "review.resolved",
        "timeout",
        "lobby",
    )
    [label] = await app.review.labels(MODERATOR, channel_id="lobby")
    assert (label.label, label.actor, label.text) == ("violation", "mod_anna", "well fuck that")
    standing = await app.users.standing(MODERATOR, "lobby", "viewer")
    assert len(standing.active) == 1 and standing.active[0].source == "review"
    entries = await app.audit.entries(MODERATOR, AuditQuery(actor="mod_anna"))
    assert [(e.action, e.reason) for e in entries] == [("review.denied", "not here")]
    assert await app.review.items(MODERATOR, channel_id="lobby") == []


async def test_an_approval_is_final_and_a_second_verdict_is_refused(app: Application) -> None:
    item_id = await held(app)
    approved = await app.review.approve(MODERATOR, item_id, reason="fine")
    assert approved.status is ReviewStatus.APPROVED
    with pytest.raises(ReviewStateError, match="already approved"):
        await app.review.deny(MODERATOR, item_id)
    assert [i.id for i in await app.review.items(MODERATOR, status=ReviewStatus.APPROVED)] == [
        item_id
    ]
    with pytest.raises(NotFoundError):
        await app.review.item(MODERATOR, "nope")


async def test_a_denial_that_does_not_remove_the_message_is_refused(app: Application) -> None:
    item_id = await held(app)
    with pytest.raises(InvalidInputError, match="a denial must delete"):
        await app.review.deny(MODERATOR, item_id, action=ActionRule(action=Action.FLAG))
    assert (await app.review.item(MODERATOR, item_id)).status is ReviewStatus.PENDING
