"""Retention: raw message text is deleted once it is older than RETENTION_DAYS.

What goes: the text of stored messages, the redacted text kept in their stored decisions, the
text of resolved review items and of review labels (each replaced by an empty string). What
stays: ids, decisions, assessments and scores, strikes, the audit log (which holds no text) and
the text's SHA-256, so that a resent message id is still recognised and checked. A review item
still pending keeps its text until it is resolved: a moderator has to read it.

`RetentionJob.run_once()` is one sweep (the `chatguard retention` command); `start()` runs a
sweep at once and then every RETENTION_INTERVAL_S, in the background, until `close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chatguard.decisions.records import ReviewStatus
from chatguard.decisions.tables import ReviewItemRow, ReviewLabelRow
from chatguard.log_safety import describe_exception
from chatguard.storage.tables import DecisionRow, MessageRow

log = logging.getLogger(__name__)

DAY_S = 86_400
#: Rows changed per transaction: short transactions, so a big backlog never holds long locks.
BATCH = 500


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """How many rows had their text deleted (or, for a dry run, would have)."""

    messages: int = 0
    decisions: int = 0
    review_items: int = 0
    review_labels: int = 0

    @property
    def total(self) -> int:
        return self.messages + self.decisions + self.review_items + self.review_labels


class RetentionJob:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        days: int,
        interval_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
        batch: int = BATCH,
    ) -> None:
        if days < 1:
            raise ValueError("retention needs at least one day (0 means keep forever: no job)")
        self.days = days
        self.interval_s = interval_s
        self.clock = clock
        self.batch = batch
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._task: asyncio.Task[None] | None = None
        self.sweeps = 0

    def cutoff(self) -> float:
        """The Unix time before which text is deleted."""
        return self.clock() - self.days * DAY_S

    async def due(self) -> RetentionReport:
        """How many rows the next sweep would change (changes nothing)."""
        cutoff = self.cutoff()
        async with self._sessions() as session:
            messages = await _count(session, _old_message_ids(cutoff))
            reviews = await _count(session, _old_reviews(cutoff))
            labels = await _count(session, _old_labels(cutoff))
            decisions = len(await _decisions_with_text(session, _old_message_ids(cutoff)))
        return RetentionReport(messages, decisions, reviews, labels)

    async def run_once(self) -> RetentionReport:
        """Delete the text of every row older than the cutoff; returns what changed."""
        cutoff = self.cutoff()
        messages, decisions = await self._sweep_messages(cutoff)
        reviews = await self._sweep(ReviewItemRow, _old_reviews(cutoff))
        labels = await self._sweep(ReviewLabelRow, _old_labels(cutoff))
        report = RetentionReport(messages, decisions, reviews, labels)
        self.sweeps += 1
        if report.total:
            log.info(
                "retention: deleted the text of %d messages, %d decisions, %d review items, "
                "%d review labels older than %d days",
                report.messages,
                report.decisions,
                report.review_items,
                report.review_labels,
                self.days,
            )
        return report

    async def _sweep_messages(self, cutoff: float) -> tuple[int, int]:
        messages = decisions = 0
        while True:
            async with self._sessions.begin() as session:
                ids = list(await session.scalars(_old_message_ids(cutoff).limit(self.batch)))
                if not ids:
                    return messages, decisions
                await session.execute(
                    update(MessageRow).where(MessageRow.id.in_(ids)).values(text="")
                )
                # The stored answer to a replayed id carries the redacted text: it goes too.
                for message_id, response in await _decisions_with_text(session, ids):
                    cleared = {**response, "redacted_text": None}
                    await session.execute(
                        update(DecisionRow)
                        .where(DecisionRow.message_id == message_id)
                        .values(response=cleared)
                    )
                    decisions += 1
                messages += len(ids)

    async def _sweep(self, table: Any, old: Any) -> int:
        changed = 0
        while True:
            async with self._sessions.begin() as session:
                ids = list(await session.scalars(old.limit(self.batch)))
                if not ids:
                    return changed
                await session.execute(update(table).where(table.id.in_(ids)).values(text=""))
                changed += len(ids)

    def start(self) -> None:
        """Sweep now and then every `interval_s`, in the background."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._loop())

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except (
                Exception
            ) as exc:  # a database hiccup must not end the job; the next sweep retries
                log.warning("retention sweep failed: %s", describe_exception(exc))
            await asyncio.sleep(self.interval_s)


def _old_message_ids(cutoff: float) -> Any:
    return select(MessageRow.id).where(
        MessageRow.received_at < datetime.fromtimestamp(cutoff, UTC), MessageRow.text != ""
    )


def _old_reviews(cutoff: float) -> Any:
    return select(ReviewItemRow.id).where(
        ReviewItemRow.created_at < cutoff,
        ReviewItemRow.status != ReviewStatus.PENDING.value,
        ReviewItemRow.text != "",
    )


def _old_labels(cutoff: float) -> Any:
    return select(ReviewLabelRow.id).where(
        ReviewLabelRow.created_at < cutoff, ReviewLabelRow.text != ""
    )


async def _count(session: AsyncSession, query: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def _decisions_with_text(
    session: AsyncSession, message_ids: Any
) -> list[tuple[str, dict[str, Any]]]:
    rows = await session.execute(
        select(DecisionRow.message_id, DecisionRow.response).where(
            DecisionRow.message_id.in_(message_ids)
        )
    )
    return [(r[0], r[1]) for r in rows if (r[1] or {}).get("redacted_text") is not None]
