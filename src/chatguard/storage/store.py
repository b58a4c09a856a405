"""The SQL store of messages, assessments and decisions (SQLite file or PostgreSQL)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from chatguard.domain import Decision, Message
from chatguard.errors import ConflictError
from chatguard.serialize import decision_dict
from chatguard.storage.migrate import upgrade
from chatguard.storage.privacy import private_engine
from chatguard.storage.tables import AssessmentRow, DecisionRow, MessageRow


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredDecision:
    message_id: str
    text_sha256: str
    response: dict[str, Any]


class SqlStore:
    """Stores every moderated message with its assessment and decision. Saving a message id
    that is already stored is idempotent: the stored decision stands."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        # Errors and echoed statements never show the values written (message text).
        self.engine: AsyncEngine = private_engine(url, echo=echo, **_engine_options(url))
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def start(self) -> None:
        await upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    async def get(self, message_id: str) -> StoredDecision | None:
        async with self._sessions() as session:
            row = await session.execute(
                select(MessageRow.text_sha256, DecisionRow.response)
                .join(DecisionRow, DecisionRow.message_id == MessageRow.id)
                .where(MessageRow.id == message_id)
            )
            found = row.first()
        if found is None:
            return None
        return StoredDecision(message_id, found[0], found[1])

    async def get_many(self, message_ids: list[str]) -> dict[str, StoredDecision]:
        if not message_ids:
            return {}
        async with self._sessions() as session:
            rows = await session.execute(
                select(MessageRow.id, MessageRow.text_sha256, DecisionRow.response)
                .join(DecisionRow, DecisionRow.message_id == MessageRow.id)
                .where(MessageRow.id.in_(message_ids))
            )
            return {r[0]: StoredDecision(r[0], r[1], r[2]) for r in rows}

    async def save(self, pairs: list[tuple[Message, Decision]]) -> dict[str, StoredDecision]:
        """Store each (message, decision); returns what is stored for ids that already existed
        (so the caller can answer with the stored decision), after checking the text matches."""
        if not pairs:
            return {}
        try:
            async with self._sessions.begin() as session:
                await _add(session, pairs)
            return {}
        except IntegrityError:
            pass
        # Some ids exist already (a retry or a race): store the new ones one by one.
        existing: dict[str, StoredDecision] = {}
        for message, decision in pairs:
            try:
                async with self._sessions.begin() as session:
                    await _add(session, [(message, decision)])
            except IntegrityError:
                stored = await self.get(message.id)
                if stored is None:
                    raise
                check_same_text(stored, message)
                existing[message.id] = stored
        return existing

    async def replace_provisional(self, message: Message, decision: Decision) -> bool:
        """Replace the stored provisional decision (and its assessment) for `message` with the
        final `decision`. Returns False, changing nothing, when the stored decision is not
        provisional or the message is not stored."""
        response = decision_dict(decision)
        async with self._sessions.begin() as session:
            changed = await session.execute(
                update(DecisionRow)
                .where(DecisionRow.message_id == message.id, DecisionRow.provisional.is_(True))
                .values(**_decision_values(decision, response))
            )
            if not changed.rowcount:  # type: ignore[attr-defined]
                return False
            await session.execute(
                update(AssessmentRow)
                .where(AssessmentRow.message_id == message.id)
                .values(**_assessment_values(decision, response))
            )
        return True

    async def count(self, table: str = "messages") -> int:
        model = {"messages": MessageRow, "assessments": AssessmentRow, "decisions": DecisionRow}
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model[table])) or 0)


def check_same_text(stored: StoredDecision, message: Message) -> None:
    if stored.text_sha256 != text_digest(message.text):
        raise ConflictError(f"message id {message.id!r} was already used for a different message")


async def _add(session: AsyncSession, pairs: list[tuple[Message, Decision]]) -> None:
    # Without ORM relationships the unit of work does not order inserts by foreign key, so the
    # message rows go in first and the rows that refer to them after.
    rows = [_rows(m, d) for m, d in pairs]
    session.add_all([r[0] for r in rows])
    await session.flush()
    session.add_all([row for r in rows for row in r[1:]])


def _rows(message: Message, decision: Decision) -> list[object]:
    response = decision_dict(decision)
    return [
        MessageRow(
            id=message.id,
            channel_id=message.channel_id,
            user_id=message.user_id,
            text=decision.redacted_text or message.text,  # PII is not kept when redacting
            text_sha256=text_digest(message.text),
            roles=sorted(r.value for r in message.roles),
            sent_at=message.timestamp,
        ),
        AssessmentRow(message_id=message.id, **_assessment_values(decision, response)),
        DecisionRow(message_id=message.id, **_decision_values(decision, response)),
    ]


def _assessment_values(decision: Decision, response: dict[str, Any]) -> dict[str, Any]:
    assessment = decision.assessment
    return {
        "route": assessment.route.value,
        "decided_by": assessment.decided_by,
        "flagged": assessment.flagged,
        "escalated": assessment.escalated,
        "scores": {c.value: float(s) for c, s in assessment.scores.items()},
        "spans": response["spans"],
        "trail": response["trail"],
    }


def _decision_values(decision: Decision, response: dict[str, Any]) -> dict[str, Any]:
    return {
        "action": decision.action.value,
        "reason": decision.reason,
        "policy": decision.policy,
        "duration_s": decision.duration_s,
        "provisional": decision.provisional,
        "processing_time_ms": decision.processing_time_ms,
        "response": response,
    }


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_size": 10, "max_overflow": 10, "pool_pre_ping": True}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
