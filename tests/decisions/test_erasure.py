"""Erasing a user: their messages (with assessments and decisions), strikes, review items and
labels in one channel go; other users and channels stay; the audit log records who erased
what, with counts and no text. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from chatguard.decisions.tables import AuditRow, ReviewItemRow, ReviewLabelRow, StrikeRow
from chatguard.storage.tables import AssessmentRow, DecisionRow, MessageRow
from tests.decisions.test_api import as_, keyed_client


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in keyed_client(database_url, "rules"):
        yield client


async def post(api: httpx.AsyncClient, text: str, user: str, channel: str = "lobby") -> dict:
    body = {"message": text, "user_id": user, "channel_id": channel}
    response = await api.post("/moderate", json=body, headers=as_(api, "connector"))
    assert response.status_code == 200
    return response.json()


async def counts(url: str, channel: str, user: str) -> dict[str, int]:
    engine = create_async_engine(url)
    mine = select(MessageRow.id).where(MessageRow.channel_id == channel, MessageRow.user_id == user)
    queries = {
        "messages": select(func.count()).select_from(MessageRow).where(MessageRow.id.in_(mine)),
        "assessments": select(func.count())
        .select_from(AssessmentRow)
        .where(AssessmentRow.message_id.in_(mine)),
        "decisions": select(func.count())
        .select_from(DecisionRow)
        .where(DecisionRow.message_id.in_(mine)),
        "strikes": select(func.count())
        .select_from(StrikeRow)
        .where(StrikeRow.channel_id == channel, StrikeRow.user_id == user),
        "review_items": select(func.count())
        .select_from(ReviewItemRow)
        .where(ReviewItemRow.channel_id == channel, ReviewItemRow.user_id == user),
        "review_labels": select(func.count())
        .select_from(ReviewLabelRow)
        .where(ReviewLabelRow.message_id.in_(mine)),
    }
    try:
        async with engine.connect() as connection:
            return {k: int((await connection.execute(q)).scalar_one()) for k, q in queries.items()}
    finally:
        await engine.dispose()


async def test_erasing_a_user_removes_their_data_in_the_channel_only(
    api: httpx.AsyncClient, database_url: str
) -> None:
    await post(api, "kys", "viewer")  # a strike
    await post(api, "hello all", "viewer")
    await post(api, "well fuck that", "viewer")  # held for review
    [item] = (await api.get("/review")).json()["items"]
    denied = await api.post(f"/review/{item['id']}/deny", json={}, headers=as_(api, "mod_anna"))
    assert denied.status_code == 200  # a label and a second strike
    await post(api, "kys", "bystander")
    await post(api, "kys", "viewer", channel="elsewhere")
    before = await counts(database_url, "lobby", "viewer")
    assert before == {
        "messages": 3,
        "assessments": 3,
        "decisions": 3,
        "strikes": 2,
        "review_items": 1,
        "review_labels": 1,
    }

    erased = await api.delete("/users/lobby/viewer", params={"reason": "erasure request"})
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"] == before
    assert set((await counts(database_url, "lobby", "viewer")).values()) == {0}
    assert (await counts(database_url, "lobby", "bystander"))["messages"] == 1
    assert (await counts(database_url, "elsewhere", "viewer"))["strikes"] == 1
    assert (await api.get("/users/lobby/viewer")).json()["strikes"] == []
    engine = api.app.state.service.decider  # type: ignore[attr-defined]
    assert engine.reviews is not None and await engine.repository.labels() == []
    service = api.app.state.service  # type: ignore[attr-defined]
    assert [m.user_id for m in service.channels.recent("lobby", limit=10)] == ["bystander"]

    [entry] = (await api.get("/audit", params={"actor": "owner"})).json()["entries"]
    assert (entry["action"], entry["channel_id"], entry["user_id"]) == (
        "user.erased",
        "lobby",
        "viewer",
    )
    assert entry["details"] == before and entry["reason"] == "erasure request"
    # Earlier audit entries about the user stay: they hold ids, never text.
    every = (await api.get("/audit", params={"user_id": "viewer", "limit": 100})).json()
    assert len(every["entries"]) > 1 and "fuck" not in str(every)


async def test_erasing_a_user_with_nothing_stored_answers_zeros(api: httpx.AsyncClient) -> None:
    response = await api.delete("/users/lobby/nobody")
    assert response.status_code == 200
    assert set(response.json()["erased"].values()) == {0}


async def test_only_an_admin_may_erase(api: httpx.AsyncClient) -> None:
    response = await api.delete("/users/lobby/viewer", headers=as_(api, "mod_anna"))
    assert response.status_code == 403 and "admin" in response.json()["error"]["message"]


async def test_the_audit_log_survives_erasure_on_postgresql(
    api: httpx.AsyncClient, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the append-only trigger is PostgreSQL's")
    await post(api, "kys", "viewer")
    await api.delete("/users/lobby/viewer")
    engine = create_async_engine(database_url)
    try:
        with pytest.raises(Exception, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(AuditRow.__table__.delete())
        async with engine.connect() as connection:
            left = (await connection.execute(select(func.count()).select_from(AuditRow))).scalar()
        assert left and left >= 2
    finally:
        await engine.dispose()
