"""Provisional decisions survive a restart: a run stopped while the adjudicator was still
working leaves them stored; the next run finalises them at start, with their effects once
(against the local fake LLM server; SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from chatguard.config import load_settings
from chatguard.domain import Message
from chatguard.service import ModerationService
from tests.support.effects import read_ledger
from tests.support.fake_llm import FakeLLMServer


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()


TEXTS = {"shit, you idiot": "delete", "this is shit": "allow"}


async def review_statuses(url: str) -> dict[str, str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as c:
            rows = await c.execute(text("SELECT message_id, status FROM review_items"))
            return {r[0]: r[1] for r in rows}
    finally:
        await engine.dispose()


async def test_a_restart_finalises_what_the_last_run_left_provisional(
    database_url: str, llm: FakeLLMServer
) -> None:
    llm.reset()
    options: dict[str, Any] = {
        "llm_endpoint": llm.url,
        "pipeline_stages": "rules,llm",
        "llm_max_retries": 0,
        "llm_batch_wait_ms": 1,
        "llm_deadline_ms": 50,
        "database_url": database_url,
        "_env_file": None,
    }
    settings = load_settings(**options)
    messages = [
        Message(text=t, user_id=f"u{i}", channel_id="lobby", id=f"p-{i}")
        for i, t in enumerate(list(TEXTS) * 3)
    ]
    first = ModerationService.from_settings(settings)
    await first.start()
    llm.script("delay:5")  # the adjudicator answers long after the deadline, and the stop
    outcomes = await first.moderate_batch(messages)
    assert {(o.response["action"], o.response["provisional"]) for o in outcomes} == {("hold", True)}
    await first.close()  # stops before the escalation lands
    before = await read_ledger(database_url)
    assert all(before.provisional.values()) and len(before.provisional) == 6

    llm.reset()
    second = ModerationService.from_settings(settings)
    await second.start()
    try:
        assert second.store is not None
        store = second.store
        deadline = time.monotonic() + 20
        while await store.provisional():
            assert time.monotonic() < deadline, "provisional decisions were not finalised"
            await asyncio.sleep(0.05)
        replayed = [(await second.moderate(m)).response for m in messages]
    finally:
        await second.close()
    ledger = await read_ledger(database_url)
    for message, answer in zip(messages, replayed, strict=True):
        expected = TEXTS[message.text]
        assert (answer["action"], answer["provisional"]) == (expected, False)
        assert ledger.actions[message.id] == expected
        # The hold's entry, and the final decision's if it does something; one strike if
        # the final decision removes the message.
        final = [] if expected == "allow" else [f"decision.{expected}"]
        assert sorted(ledger.audits[message.id]) == sorted(["decision.hold", *final])
        assert ledger.strikes[message.id] == (1 if expected == "delete" else 0)
    ledger.check_exactly_once()
    # The provisional holds left the review queue: the final decision replaced them.
    assert set((await review_statuses(database_url)).values()) == {"superseded"}
    assert len(llm.completions) >= 1
