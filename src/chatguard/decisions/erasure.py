"""Erasing one chat user's data in one channel: their stored messages (with assessments and
decisions), strikes, review items and review labels, in one transaction, with an audit entry
that says who erased what (counts only, never text).

The audit log itself is append-only and holds ids, not text, so its entries stay.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from chatguard.decisions.audit import HUMAN, AuditLog
from chatguard.decisions.tables import AuditRow, ReviewItemRow, ReviewLabelRow, StrikeRow
from chatguard.storage.tables import AssessmentRow, DecisionRow, MessageRow

ERASED = "user.erased"


@dataclass(frozen=True, slots=True)
class ErasureReport:
    channel_id: str
    user_id: str
    messages: int
    assessments: int
    decisions: int
    strikes: int
    review_items: int
    review_labels: int

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if isinstance(v, int)}


class UserEraser:
    def __init__(self, *, engine: AsyncEngine, audit: AuditLog | None = None) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.audit = audit

    async def erase(
        self, channel_id: str, user_id: str, *, actor: str, reason: str = ""
    ) -> ErasureReport:
        """Delete everything stored about `user_id` in `channel_id`. Erasing a user with
        nothing stored is not an error: the report counts zeros (and is audited too)."""
        messages = select(MessageRow.id).where(
            MessageRow.channel_id == channel_id, MessageRow.user_id == user_id
        )
        reviews = select(ReviewItemRow.id).where(
            ReviewItemRow.channel_id == channel_id, ReviewItemRow.user_id == user_id
        )
        async with self._sessions.begin() as session:

            async def gone(statement: Any) -> int:
                return int((await session.execute(statement)).rowcount)  # type: ignore[attr-defined]

            # Labels have no user column: they are found through their review item or message.
            labels = await gone(
                delete(ReviewLabelRow).where(
                    ReviewLabelRow.channel_id == channel_id,
                    ReviewLabelRow.review_id.in_(reviews) | ReviewLabelRow.message_id.in_(messages),
                )
            )
            report = ErasureReport(
                channel_id=channel_id,
                user_id=user_id,
                review_labels=labels,
                review_items=await gone(
                    delete(ReviewItemRow).where(
                        ReviewItemRow.channel_id == channel_id, ReviewItemRow.user_id == user_id
                    )
                ),
                strikes=await gone(
                    delete(StrikeRow).where(
                        StrikeRow.channel_id == channel_id, StrikeRow.user_id == user_id
                    )
                ),
                decisions=await gone(
                    delete(DecisionRow).where(DecisionRow.message_id.in_(messages))
                ),
                assessments=await gone(
                    delete(AssessmentRow).where(AssessmentRow.message_id.in_(messages))
                ),
                messages=await gone(
                    delete(MessageRow).where(
                        MessageRow.channel_id == channel_id, MessageRow.user_id == user_id
                    )
                ),
            )
            if self.audit is not None:
                entry = self.audit.entry(
                    actor=actor,
                    kind=HUMAN,
                    action=ERASED,
                    channel_id=channel_id,
                    user_id=user_id,
                    reason=reason,
                    details=report.counts(),
                )
                fields = {k: getattr(entry, k) for k in entry.__dataclass_fields__ if k != "id"}
                session.add(AuditRow(**fields))
        return report
