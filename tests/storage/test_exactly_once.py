"""Side effects exactly once per message id, on SQLite and PostgreSQL: retries racing with one
id, a final decision replacing a provisional one twice, and the migration that removes the
duplicates earlier releases wrote."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from chatguard.config import load_settings
from chatguard.decisions.effects import Effects
from chatguard.decisions.records import AuditEntry, Strike
from chatguard.domain import Action, Assessment, Decision, Message, Route
from chatguard.service import ModerationService
from chatguard.storage import SqlStore
from chatguard.storage.migrate import alembic_config, upgrade
from chatguard.storage.store import Entry
from chatguard.taxonomy import Category
from tests.support.effects import read_ledger

ABUSE = ("kys you worthless idiot", "you are a piece of shit", "fuck you loser")


async def test_parallel_retries_of_one_id_give_one_strike_and_one_audit_entry(
    database_url: str,
) -> None:
    settings = load_settings(database_url=database_url, _env_file=None)
    service = ModerationService.from_settings(settings)
    await service.start()
    try:
        messages = [
            Message(
                text=f"{ABUSE[i % len(ABUSE)]} #{i}",
                user_id=f"user-{i % 3}",
                channel_id="lobby",
                id=f"race-{i}",
            )
            for i in range(20)
        ]
        outcomes = await asyncio.gather(*(service.moderate(m) for m in messages for _ in range(8)))
    finally:
        await service.close()
    ledger = await read_ledger(database_url)
    assert ledger.messages == 20
    by_id: dict[str, set[tuple[str, str]]] = {}
    for outcome in outcomes:
        r = outcome.response
        by_id.setdefault(r["message_id"], set()).add((r["action"], r["reason"]))
    for message in messages:
        # Every retry got the one stored answer, and the effects match it.
        [(action, reason)] = by_id[message.id]
        assert (ledger.actions[message.id], ledger.reasons[message.id]) == (action, reason)
        assert action != "allow" and "; strike " in reason
        assert ledger.strikes[message.id] == 1
        assert ledger.audits[message.id] == [f"decision.{action}"]
    assert sum(1 for o in outcomes if not o.replayed) == 20
    ledger.check_exactly_once()


def _decision(message: Message, action: Action, *, provisional: bool) -> Decision:
    assessment = Assessment(
        message_id=message.id,
        scores={Category.HARASSMENT: 0.95},
        route=Route.ACT,
        decided_by="llm",
        pending=("llm",) if provisional else (),
    )
    return Decision(message.id, action, "harassment", assessment, provisional=provisional)


def _final_effects(message: Message) -> Effects:
    strike = Strike(
        message.channel_id, message.user_id, message.id, 1.0, "delete", "warn", "x", "auto"
    )
    entry = AuditEntry(
        at=1.0,
        actor="policy:default",
        actor_kind="system",
        action="decision.delete",
        message_id=message.id,
        effect_key=f"final:{message.id}",
    )
    return Effects(strike=strike, audit=(entry,))


async def test_a_final_decision_racing_with_itself_writes_its_effects_once(
    database_url: str,
) -> None:
    store = SqlStore(database_url)
    await store.start()
    try:
        message = Message(text="you idiot", user_id="u", channel_id="c", id="final-1")
        await store.save([(message, _decision(message, Action.HOLD, provisional=True))])
        final = Entry.of(
            message, _decision(message, Action.DELETE, provisional=False), _final_effects(message)
        )
        results = await asyncio.gather(*(store.finalize(final) for _ in range(6)))
        assert sum(r is not None for r in results) == 1
        assert await store.finalize(final) is None  # and later ones change nothing
    finally:
        await store.close()
    ledger = await read_ledger(database_url)
    assert ledger.actions == {"final-1": "delete"}
    assert ledger.strikes["final-1"] == 1 and ledger.audits["final-1"] == ["decision.delete"]


async def test_the_migration_removes_duplicates_then_refuses_them(database_url: str) -> None:
    engine = create_async_engine(database_url)

    def to_0002(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")

    strike = (
        "INSERT INTO strikes (channel_id, user_id, message_id, at, action, rung, reason, source) "
        "VALUES ('c', 'u', :m, 1.0, 'delete', 'warn', 'r', 'auto')"
    )
    audit = (
        "INSERT INTO audit_log (at, actor, actor_kind, action, channel_id, user_id, message_id, "
        "reason, details) VALUES (1.0, 'policy:default', 'system', :a, 'c', 'u', :m, 'r', '{}')"
    )
    delivery = (
        "INSERT INTO webhook_deliveries (id, url, event_type, body, status, attempts, "
        "created_at, updated_at) VALUES (:i, 'http://h/x', 'decision', :b, :s, 0, :t, :t)"
    )
    try:
        async with engine.begin() as c:
            await c.run_sync(to_0002)
        async with engine.begin() as c:
            params: list[dict[str, Any]] = [{"m": "m1"}] * 3 + [{"m": "m2"}]
            await c.execute(text(strike), params)
            audits = [{"m": "m1", "a": "decision.delete"}] * 3 + [{"m": "m1", "a": "decision.hold"}]
            await c.execute(text(audit), audits)
            body = '{"message_id":"m1","type":"decision"}'
            await c.execute(
                text(delivery),
                [
                    {"i": "d1", "b": body, "s": "pending", "t": 1.0},
                    {"i": "d2", "b": body, "s": "delivered", "t": 2.0},
                    {"i": "d3", "b": body, "s": "dead", "t": 3.0},
                ],
            )
        await upgrade(engine)
        async with engine.connect() as c:
            strikes = (await c.execute(text("SELECT message_id FROM strikes ORDER BY id"))).all()
            entries = (await c.execute(text("SELECT action FROM audit_log ORDER BY id"))).all()
            kept = (await c.execute(text("SELECT id, message_id FROM webhook_deliveries"))).all()
        assert [r[0] for r in strikes] == ["m1", "m2"]
        assert [r[0] for r in entries] == ["decision.delete", "decision.hold"]
        assert [tuple(r) for r in kept] == [("d2", "m1")]  # the delivered one stands
        async with engine.connect() as c:
            inserted = await c.execute(text(strike + " ON CONFLICT DO NOTHING"), {"m": "m1"})
            assert inserted.rowcount == 0  # the unique key holds now
    finally:
        await engine.dispose()


async def test_offences_in_one_batch_climb_the_ladder_in_order(database_url: str) -> None:
    settings = load_settings(database_url=database_url, pipeline_stages="rules", _env_file=None)
    service = ModerationService.from_settings(settings)
    await service.start()
    try:
        batch = [Message(text="kys", user_id="u", channel_id="c", id=f"b-{i}") for i in range(3)]
        actions = [o.response["action"] for o in await service.moderate_batch(batch)]
    finally:
        await service.close()
    assert actions == ["delete", "delete", "timeout"]  # warn, delete, 10 min
    ledger = await read_ledger(database_url)
    assert [ledger.strikes[m.id] for m in batch] == [1, 1, 1]
