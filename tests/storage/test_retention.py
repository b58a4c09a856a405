"""Retention on SQLite and PostgreSQL: text older than RETENTION_DAYS goes (messages, the
redacted text in stored decisions, resolved review items, review labels); ids, decisions,
assessments and text hashes stay, and a resent message id is still recognised."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from chatguard.config import load_settings
from chatguard.decisions.records import Label, ReviewItem, ReviewStatus
from chatguard.decisions.repository import DecisionRepository
from chatguard.decisions.tables import ReviewItemRow, ReviewLabelRow
from chatguard.domain import Message
from chatguard.errors import ConflictError
from chatguard.retention import DAY_S, RetentionJob
from chatguard.service import ModerationService
from chatguard.storage.tables import DecisionRow, MessageRow

NOW = time.time()
OLD = NOW - 40 * DAY_S  # past a 30-day retention
RECENT = NOW - 2 * DAY_S
PII_TEXT = "mail me at anna@example.com"


def make_service(url: str, **overrides: object) -> ModerationService:
    settings = load_settings(
        database_url=url,
        pipeline_stages="filter",
        pii_redaction="mask",
        _env_file=None,
        **({"retention_days": 0} | overrides),
    )
    return ModerationService.from_settings(settings)


async def backdate(service: ModerationService, message_ids: list[str], at: float) -> None:
    assert service.store is not None
    async with service.store.engine.begin() as connection:
        await connection.execute(
            update(MessageRow)
            .where(MessageRow.id.in_(message_ids))
            .values(received_at=datetime.fromtimestamp(at, UTC))
        )


def review(status: ReviewStatus, created_at: float) -> ReviewItem:
    return ReviewItem(
        id=uuid.uuid4().hex,
        message_id=uuid.uuid4().hex,
        channel_id="lobby",
        user_id="viewer",
        text=f"held text {status.value}",
        reason="profanity",
        scores={"profanity": 0.9},
        policy="default",
        status=status,
        default_action="delete",
        default_duration_s=None,
        created_at=created_at,
        expires_at=created_at + 300,
    )


def label(created_at: float) -> Label:
    return Label(
        review_id=uuid.uuid4().hex,
        message_id=uuid.uuid4().hex,
        channel_id="lobby",
        text="labelled text",
        label="violation",
        categories=["profanity"],
        source="moderator",
        actor="mod",
        created_at=created_at,
    )


async def texts(service: ModerationService, table: object) -> dict[str, str]:
    assert service.store is not None
    key = MessageRow.id if table is MessageRow else table.id  # type: ignore[attr-defined]
    async with service.store.engine.connect() as connection:
        rows = await connection.execute(select(key, table.text))  # type: ignore[attr-defined]
        return {str(r[0]): r[1] for r in rows}


async def test_old_text_goes_and_everything_else_stays(database_url: str) -> None:
    service = make_service(database_url)
    await service.start()
    try:
        old = [
            Message(text="old and plain", user_id="u", channel_id="c", id="old-1"),
            Message(text=PII_TEXT, user_id="u", channel_id="c", id="old-pii"),
        ]
        recent = [Message(text=PII_TEXT, user_id="u", channel_id="c", id="recent-pii")]
        await service.moderate_batch([*old, *recent])
        await backdate(service, ["old-1", "old-pii"], OLD)
        await backdate(service, ["recent-pii"], RECENT)
        assert service.store is not None
        repository = DecisionRepository(engine=service.store.engine)
        items = {
            "old-resolved": review(ReviewStatus.DENIED, OLD),
            "old-pending": review(ReviewStatus.PENDING, OLD),
            "recent-resolved": review(ReviewStatus.APPROVED, RECENT),
        }
        for item in items.values():
            await repository.add_review(item)
        await repository.add_label(label(OLD))
        await repository.add_label(label(RECENT))
        hashes_before = await _hashes(service)

        job = RetentionJob(engine=service.store.engine, days=30, clock=lambda: NOW)
        due = await job.due()
        report = await job.run_once()

        assert due == report
        assert (report.messages, report.decisions, report.review_items, report.review_labels) == (
            2,
            1,
            1,
            1,
        )
        messages = await texts(service, MessageRow)
        redacted = messages.pop("recent-pii")
        assert redacted.startswith("mail me at ") and "anna@" not in redacted
        assert messages == {"old-1": "", "old-pii": ""}
        responses = await _responses(service)
        assert responses["old-pii"]["redacted_text"] is None
        assert responses["recent-pii"]["redacted_text"] == redacted
        assert responses["old-1"]["action"]  # the decision itself is kept
        reviews = await texts(service, ReviewItemRow)
        assert reviews[items["old-resolved"].id] == ""
        assert reviews[items["old-pending"].id] == "held text pending"  # a moderator needs it
        assert reviews[items["recent-resolved"].id] == "held text approved"
        assert sorted((await texts(service, ReviewLabelRow)).values()) == ["", "labelled text"]
        assert await _hashes(service) == hashes_before
        for table in ("messages", "assessments", "decisions"):
            assert await service.store.count(table) == 3
        assert (await job.run_once()).total == 0  # nothing left to do

        # A resent id is still recognised by its text's hash, and a different text still refused.
        again = await service.moderate(
            Message(text=PII_TEXT, user_id="u", channel_id="c", id="old-pii")
        )
        assert again.replayed
        with pytest.raises(ConflictError):
            await service.moderate(Message(text="other", user_id="u", channel_id="c", id="old-1"))
    finally:
        await service.close()


async def test_the_service_sweeps_at_start_and_stops_with_it(database_url: str) -> None:
    service = make_service(database_url)
    await service.start()
    try:
        await service.moderate(Message(text="old news", user_id="u", channel_id="c", id="m-old"))
        await backdate(service, ["m-old"], NOW - 3 * DAY_S)
    finally:
        await service.close()
    assert service.retention is None  # RETENTION_DAYS=0 keeps text forever

    service = make_service(database_url, retention_days=1)
    await service.start()
    try:
        assert service.retention is not None
        deadline = time.monotonic() + 10
        while (await texts(service, MessageRow))["m-old"] != "":
            assert time.monotonic() < deadline, "the sweep at start did not run"
            await asyncio.sleep(0.05)
    finally:
        await service.close()
    assert service.retention._task is None


async def test_the_job_sweeps_again_every_interval(sqlite_url: str) -> None:
    service = make_service(sqlite_url)
    await service.start()
    assert service.store is not None
    job = RetentionJob(engine=service.store.engine, days=1, interval_s=0.05)
    job.start()
    try:
        deadline = time.monotonic() + 10
        while job.sweeps < 1:  # the first sweep is done before the text gets old
            assert time.monotonic() < deadline, "no first sweep"
            await asyncio.sleep(0.01)
        first = job.sweeps
        await service.moderate(Message(text="soon old", user_id="u", channel_id="c", id="m-late"))
        await backdate(service, ["m-late"], NOW - 2 * DAY_S)
        # The text is cleared inside a sweep, which is counted once it has finished.
        while (await texts(service, MessageRow))["m-late"] != "" or job.sweeps <= first:
            assert time.monotonic() < deadline, "no later sweep"
            await asyncio.sleep(0.05)
    finally:
        await job.close()
        await service.close()


def test_the_command_counts_then_deletes(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chatguard.db'}"

    async def prepare() -> None:
        service = make_service(url)
        await service.start()
        try:
            await service.moderate(Message(text="very old", user_id="u", channel_id="c", id="x"))
            await backdate(service, ["x"], OLD)
        finally:
            await service.close()

    asyncio.run(prepare())
    chatguard = str(Path(sys.executable).with_name("chatguard"))
    env = {**os.environ, "DATABASE_URL": url, "RETENTION_DAYS": "30"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [chatguard, "retention", *args], capture_output=True, text=True, env=env, cwd=tmp_path
        )

    dry = run()
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stdout and "messages:      1" in dry.stdout
    applied = run("--apply")
    assert applied.returncode == 0, applied.stderr
    assert "deleted" in applied.stdout and "messages:      1" in applied.stdout
    assert "messages:      0" in run("--apply").stdout
    assert run("--days", "0").returncode == 2


async def _hashes(service: ModerationService) -> dict[str, str]:
    assert service.store is not None
    async with service.store.engine.connect() as connection:
        rows = await connection.execute(select(MessageRow.id, MessageRow.text_sha256))
        return {r[0]: r[1] for r in rows}


async def _responses(service: ModerationService) -> dict[str, dict[str, object]]:
    assert service.store is not None
    async with service.store.engine.connect() as connection:
        rows = await connection.execute(select(DecisionRow.message_id, DecisionRow.response))
        return {r[0]: r[1] for r in rows}
