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
