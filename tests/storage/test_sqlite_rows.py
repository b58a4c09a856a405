"""On a SQLite file the store writes and looks up its rows on the plain `sqlite3` connection
(`chatguard.storage.sqlite_rows`). The rows are the ones SQLAlchemy's statements write, value
for value in the file (JSON text, datetime text, booleans), and read back the same through
SQLAlchemy and through the look-up."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from chatguard.config import load_settings
from chatguard.decisions.effects import NO_EFFECTS
from chatguard.domain import Message, Role
from chatguard.service import ModerationService
from chatguard.storage.store import Entry, SqlStore, _write_new

TEXTS = [
    "hello chat",
    "you are an idiot",
    "mail me at john.doe@example.com or call +1 415 555 0132",
    'ünïcödé ✓ 日本語 "quoted" \\ tab\tnew\nline',
]


async def entries(directory: Path) -> list[Entry]:
    """Entries of real decisions (the fast tier and the policy engine), effects left out."""
    url = f"sqlite+aiosqlite:///{directory / 'decide.db'}"
    service = ModerationService.from_settings(load_settings(database_url=url, _env_file=None))
    await service.start()
    try:
        messages = [
            Message(
                text=t,
                user_id=f"u{i}",
                channel_id="rows",
                roles=frozenset({Role.VIP}) if i % 2 else frozenset(),
                timestamp=1_700_000_000.5 + i,
            )
            for i, t in enumerate(TEXTS)
        ]
        run = await service.pipeline.begin(messages, {})
        assessments = await run.finish()
        assert service.policy is not None
        planned = await service.policy.plan_many(
            list(zip(messages, assessments, strict=True)), final=False, offline=False
        )
        return [Entry.of(m, p.decision, NO_EFFECTS) for m, p in zip(messages, planned, strict=True)]
    finally:
        await service.close()


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as connection:
        return {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("messages", "assessments", "decisions")
        }


DATETIME_TEXT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")


async def test_the_plain_rows_are_the_rows_sqlalchemy_writes(tmp_path: Path) -> None:
    made = await entries(tmp_path)
    plain, orm = tmp_path / "plain.db", tmp_path / "orm.db"
    stores = [SqlStore(f"sqlite+aiosqlite:///{p}") for p in (plain, orm)]
    for store in stores:
        await store.start()
    try:
        saved = await stores[0].save_entries(made)  # the SQLite file's path: plain sqlite3
        assert set(saved.applied) == {e.message_id for e in made}
        async with stores[1]._sessions.begin() as session:  # SQLAlchemy's statements
            await _write_new(session, {e.message_id: e for e in made})
        written, expected = rows(plain), rows(orm)
        created = 1 + list(stores[0]._rows.decisions.keys).index("created_at")  # type: ignore[union-attr]
        for table in written:
            assert len(written[table]) == len(made)
            for mine, theirs in zip(written[table], expected[table], strict=True):
                if table == "decisions":  # the time of writing differs; its form must not
                    assert DATETIME_TEXT.match(mine[created - 1])
                    assert DATETIME_TEXT.match(theirs[created - 1])
                    mine = mine[: created - 1] + mine[created:]
                    theirs = theirs[: created - 1] + theirs[created:]
                assert mine == theirs
        # Read back: through SQLAlchemy (the other store's sessions on this file) and the
        # look-up, the same answers.
        ids = [e.message_id for e in made]
        looked_up = await stores[0].get_many([*ids, "missing"])
        assert {i: s.response for i, s in looked_up.items()} == {
            e.message_id: e.response for e in made
        }
        other = SqlStore(f"sqlite+aiosqlite:///{plain}", group_commit=False)
        try:
            async with other._sessions() as session:
                from chatguard.storage.store import _stored

                through_orm = await _stored(session, ids)
            assert through_orm == looked_up
        finally:
            await other.close()
        # A second save of the same ids is answered with the stored decisions.
        again = await stores[0].save_entries(made)
        assert not again.applied and set(again.existing) == set(ids)
    finally:
        for store in stores:
            await store.close()


EFFECT_TABLES = ("strikes", "audit_log", "review_items", "webhook_deliveries")


def effect_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The effect tables' rows in insertion order; the webhook deliveries of review events
    made while writing get random ids, so their first column (the id) is left out."""
    with sqlite3.connect(path) as connection:
        found = {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            for table in EFFECT_TABLES
        }
    found["webhook_deliveries"] = [r[1:] for r in found["webhook_deliveries"]]
    return found


def with_effects(made: list[Entry]) -> list[Entry]:
    """The entries with every kind of effect a fresh decision has: a strike, audit entries,
    a review item (whose `review.held` event gets deliveries while writing) and deliveries."""
    from dataclasses import replace

    from chatguard.decisions.effects import Effects
    from chatguard.decisions.records import AuditEntry, Delivery, ReviewItem, ReviewStatus, Strike

    out = []
    for i, entry in enumerate(made):
        mid = entry.message_id
        effects = Effects(
            strike=Strike("rows", f"u{i}", mid, 1_700_000_000.0 + i, "delete", "warn", "r", "auto")
            if i % 2 == 0
            else None,
            audit=(
                AuditEntry(
                    at=1_700_000_000.25 + i,
                    actor="policy:default",
                    actor_kind="system",
                    action="decision.delete",
                    channel_id="rows",
                    user_id=f"u{i}",
                    message_id=mid,
                    reason='ünïcödé "why"',
                    details={"trail": ["filter:act"], "top_score": 0.9, "provisional": False},
                    effect_key=f"decision:{mid}",
                ),
            ),
            review=ReviewItem(
                id=f"{i:032x}",
                message_id=mid,
                channel_id="rows",
                user_id=f"u{i}",
                text=TEXTS[i],
                reason="held",
                scores={"harassment": 0.5},
                policy="default",
                status=ReviewStatus.PENDING,
                default_action="delete",
                default_duration_s=None if i % 2 else 60,
                created_at=1_700_000_001.0 + i,
                expires_at=1_700_000_901.0 + i,
                priority=i,
            )
            if i != 1
            else None,
            deliveries=(
                Delivery(
                    f"fixed{i:027d}",
                    "https://hooks.example/a",
                    "decision",
                    "{}",
                    "pending",
                    0,
                    None,
                    1.5,
                    1.5,
                    mid,
                ),
            ),
            webhook_urls=("https://hooks.example/a", "https://hooks.example/b"),
        )
        out.append(replace(entry, effects=effects))
    return out


async def test_the_effects_on_the_plain_connection_are_the_sessions_rows(tmp_path: Path) -> None:
    made = with_effects(await entries(tmp_path))
    plain, orm = tmp_path / "plain.db", tmp_path / "orm.db"
    stores = [SqlStore(f"sqlite+aiosqlite:///{p}") for p in (plain, orm)]
    for store in stores:
        await store.start()
    try:
        local = stores[0]._local
        assert local is not None

        async def no_session(work: Any) -> Any:
            raise AssertionError("fresh decisions' effects went through a SQLAlchemy session")

        local.write = no_session  # type: ignore[method-assign]
        saved = await stores[0].save_entries(made)  # effects on the plain sqlite3 connection
        async with stores[1]._sessions.begin() as session:  # through the SQLAlchemy session
            _, through_session = await _write_new(session, {e.message_id: e for e in made})
        written, expected = effect_rows(plain), effect_rows(orm)
        assert [len(written[t]) for t in EFFECT_TABLES] == [2, 4, 3, 4 + 3 * 2]
        assert written == expected

        def comparable(applied: Any) -> tuple[Any, ...]:
            ids = sorted(d.id for d in applied.deliveries if not d.id.startswith("fixed"))
            return applied.events, len(ids), applied.held, applied.superseded

        assert {i: comparable(a) for i, a in saved.applied.items()} == {
            i: comparable(a) for i, a in through_session.items()
        }
        assert sum(a.held for a in saved.applied.values()) == 3
        assert all(len(a.deliveries) in (1, 3) for a in saved.applied.values())
        # A retry writes no effect a second time.
        again = await stores[0].save_entries(made)
        assert not again.applied
        assert effect_rows(plain) == written
        # Effects of a decision whose message another decision claimed already (its audit
        # entry's key is taken) are not written, beside another decision's that are: the
        # same on both paths.
        from dataclasses import replace

        from chatguard.decisions.records import Strike
        from chatguard.decisions.repository import write_many_effects

        other = made[1].effects
        extra = replace(
            other,
            audit=(replace(other.audit[0], message_id="extra", effect_key="decision:extra"),),
            strike=Strike("rows", "u9", "extra", 1_700_000_009.0, "delete", "warn", "r", "auto"),
            deliveries=(),
        )
        pair = [made[0].effects, extra]
        rows_plain = stores[0]._rows
        assert rows_plain is not None
        late_plain = await local.write_plain(lambda c: rows_plain.effects.write(c, pair))
        async with stores[1]._sessions.begin() as session:
            late_session = await write_many_effects(session, pair)
        assert [a.taken for a in late_plain] == [a.taken for a in late_session] == [True, False]
        assert [comparable(a) for a in late_plain] == [comparable(a) for a in late_session]
        assert effect_rows(plain) == effect_rows(orm)
        assert [len(effect_rows(plain)[t]) for t in EFFECT_TABLES] == [3, 5, 3, 4 + 3 * 2]
    finally:
        for store in stores:
            await store.close()
