"""The SQL store of messages, assessments and decisions (SQLite file or PostgreSQL), and of the
side effects that hang off each decision.

A decision is stored with its effects (strike, audit entry, review item, webhook deliveries)
in one transaction: the message row is inserted only if its id is new, and only then are the
rest written. A retry, a crash between two steps or two requests racing with one id can repeat
the work but never the effect; the loser answers with the stored decision.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import async_sessionmaker as sessionmaker

from chatguard.decisions.effects import NO_EFFECTS, Applied, Effects
from chatguard.domain import Decision, Message, Role
from chatguard.errors import ConflictError, StoreUnavailableError
from chatguard.serialize import decision_dict
from chatguard.storage.group_commit import GroupObserver, GroupQueue
from chatguard.storage.guard import GuardedSessions, unavailable_on_failure
from chatguard.storage.inline import InlineSession, run_inline
from chatguard.storage.liveness import ping_when_idle
from chatguard.storage.migrate import upgrade
from chatguard.storage.privacy import private_engine
from chatguard.storage.sqlite_local import SqliteLocal, plain_connection, sqlite_file
from chatguard.storage.sqlite_rows import RowInsert, StoredLookUp
from chatguard.storage.tables import AssessmentRow, DecisionRow, MessageRow

#: Seconds to wait for a connection (PostgreSQL) before the database counts as away.
CONNECT_TIMEOUT_S = 3.0
#: Seconds a statement may take on PostgreSQL.
STATEMENT_TIMEOUT_S = 15.0
#: Seconds a SQLite connection waits for another's write lock before failing.
SQLITE_BUSY_TIMEOUT_S = 30.0
#: Most message ids in one look-up query (within every database's bound-parameter limit).
READ_GROUP_IDS = 500
#: Groups of writes (and of look-ups) out at once on a database server (PostgreSQL); within
#: the pool (`DATABASE_POOL_SIZE`, default 10), beside the requests' own sessions.
SERVER_GROUPS_IN_FLIGHT = 4
#: SQLite connections kept open per process.
SQLITE_POOL_SIZE = 20


# Core tables of the rows a save writes: executemany inserts skip the ORM's per-row work.
_MESSAGES = cast(Table, MessageRow.__table__)
_ASSESSMENTS = cast(Table, AssessmentRow.__table__)
_DECISIONS = cast(Table, DecisionRow.__table__)


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredDecision:
    message_id: str
    text_sha256: str
    response: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Entry:
    """A decision ready to be stored: the values of its rows, as plain data (the local spool
    keeps entries as JSON while the database is away), and its effects."""

    message: dict[str, Any]
    assessment: dict[str, Any]
    decision: dict[str, Any]
    effects: Effects = NO_EFFECTS

    @classmethod
    def of(cls, message: Message, decision: Decision, effects: Effects = NO_EFFECTS) -> Entry:
        response = decision_dict(decision)
        return cls(
            message={
                "id": message.id,
                "channel_id": message.channel_id,
                "user_id": message.user_id,
                "text": decision.redacted_text or message.text,  # PII is not kept when redacting
                "text_sha256": text_digest(message.text),
                "roles": sorted(r.value for r in message.roles),
                "sent_at": message.timestamp,
                "received_at": datetime.now(UTC).isoformat(),
            },
            assessment=_assessment_values(decision, response),
            decision=_decision_values(decision, response),
            effects=effects,
        )

    @property
    def message_id(self) -> str:
        return str(self.message["id"])

    @property
    def response(self) -> dict[str, Any]:
        response: dict[str, Any] = self.decision["response"]
        return response

    @property
    def stored(self) -> StoredDecision:
        return StoredDecision(self.message_id, str(self.message["text_sha256"]), self.response)

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "assessment": self.assessment,
            "decision": self.decision,
            "effects": self.effects.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(
            message=data["message"],
            assessment=data["assessment"],
            decision=data["decision"],
            effects=Effects.from_json(data["effects"]),
        )


@dataclass(frozen=True, slots=True)
class Saved:
    """The outcome of storing entries: what the new ones' effects did, by message id, and the
    decisions already stored for the others (a retry or a lost race)."""

    applied: dict[str, Applied] = field(default_factory=dict)
    existing: dict[str, StoredDecision] = field(default_factory=dict)


class SqlStore:
    """Stores every moderated message with its assessment, decision and effects. Saving a
    message id that is already stored is idempotent: the stored decision stands."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool: PoolSettings | None = None,
        group_commit: bool = True,
    ) -> None:
        self.url = url
        self.pool = pool or PoolSettings()
        # Errors and echoed statements never show the values written (message text).
        self.engine: AsyncEngine = private_engine(url, echo=echo, **_engine_options(url, self.pool))
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            ping_when_idle(self.engine)
        self._sessions = GuardedSessions(sessionmaker(self.engine, expire_on_commit=False))
        # A SQLite file's grouped writes and look-ups run on the plain driver, on the loop's
        # thread (`sqlite_local`); PostgreSQL's on asyncpg's pooled connections.
        path = sqlite_file(url)
        self._local = (
            SqliteLocal(path, busy_timeout_s=SQLITE_BUSY_TIMEOUT_S, pragmas=_sqlite_pragmas)
            if path is not None
            else None
        )
        #: The hot statements on the SQLite file's plain connection (`sqlite_rows`).
        self._rows = _LocalRows(self._local.engine.dialect) if self._local is not None else None
        #: Concurrent `save_entries` calls share a transaction (off: one each, for tests
        #: that compare).
        self.group_commit = group_commit
        # SQLite has one writer at a time; PostgreSQL commits several transactions at once
        # (their flushes to disk overlap), so a few groups go out together there.
        in_flight = 1 if url.startswith("sqlite") else SERVER_GROUPS_IN_FLIGHT
        self._writer: GroupQueue[Entry, Saved] = GroupQueue(
            self._save_groups, concurrency=in_flight
        )
        # Look-ups of stored decisions (one per request, before the cascade runs) share a
        # query the same way.
        self._reader: GroupQueue[str, dict[str, StoredDecision]] = GroupQueue(
            self._read_groups, max_entries=READ_GROUP_IDS, concurrency=in_flight
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def start(self) -> None:
        """Bring the schema up to date (raises `StoreUnavailableError` if it cannot)."""
        async with unavailable_on_failure():
            await upgrade(self.engine)

    def observe_groups(self, observe: GroupObserver) -> None:
        """Report every group commit (callers, entries, seconds) to `observe`."""
        self._writer.observe = observe

    async def close(self) -> None:
        await self._writer.close()
        await self._reader.close()
        if self._local is not None:
            self._local.close()
        await self.engine.dispose()

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S), self.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    async def get(self, message_id: str) -> StoredDecision | None:
        return (await self.get_many([message_id])).get(message_id)

    async def get_many(self, message_ids: list[str]) -> dict[str, StoredDecision]:
        if not message_ids:
            return {}
        if not self.group_commit:
            return await self._read(message_ids)
        return await self._reader.submit(message_ids)

    async def _read_groups(
        self, groups: list[list[str]]
    ) -> list[dict[str, StoredDecision] | BaseException]:
        found = await self._read(sorted({i for g in groups for i in g}))
        return [{i: found[i] for i in g if i in found} for g in groups]

    @property
    def plain_look_up(self) -> Any:
        """On a SQLite file, `SqliteLocal.look_up` (reads on the plain connection kept for
        them, on the event loop's thread); None elsewhere."""
        return self._local.look_up if self._local is not None else None

    async def _read(self, message_ids: list[str]) -> dict[str, StoredDecision]:
        if self._local is not None and self._rows is not None:
            rows = self._rows
            return await self._local.look_up(lambda c: rows.stored(c, message_ids))
        async with self._sessions.reading() as session:
            return await _stored(session, message_ids)

    async def save(self, pairs: Sequence[tuple[Message, Decision]]) -> dict[str, StoredDecision]:
        """Store each (message, decision) without effects; returns what is stored for ids
        that already existed, after checking the text matches."""
        return (await self.save_entries([Entry.of(m, d) for m, d in pairs])).existing

    async def save_entries(self, entries: Sequence[Entry]) -> Saved:
        """Store the entries whose message id is new, with their effects; for the others,
        return the stored decision (a `ConflictError` if the text differs). Concurrent calls
        share one transaction (`group_commit`); each returns once its entries are committed."""
        if not entries:
            return Saved()
        if not self.group_commit:
            [result] = await self._save_groups([list(entries)])
            if isinstance(result, BaseException):
                raise result
            return result
        return await self._writer.submit(entries)

    async def _save_groups(self, groups: list[list[Entry]]) -> list[Saved | BaseException]:
        """The writer's half of `save_entries`: every caller's entries in one transaction,
        one result per caller. A row the database refuses (an integrity error) fails its own
        caller, not the others: the group is then stored caller by caller."""
        try:
            return await self._save_together(groups)
        except StoreUnavailableError:
            raise  # the database is away: every caller spools
        except Exception as exc:
            if len(groups) == 1:
                return [exc]
        results: list[Saved | BaseException] = []
        for group in groups:
            try:
                results.extend(await self._save_together([group]))
            except Exception as exc:
                results.append(exc)
        return results

    async def _save_together(self, groups: list[list[Entry]]) -> list[Saved | BaseException]:
        # Per message id the first entry in queue order is the one that may be inserted; a
        # later one (another caller's retry of the id) is answered like a lost race.
        first: dict[str, Entry] = {}
        for group in groups:
            for entry in group:
                first.setdefault(entry.message_id, entry)
        if self._local is not None and self._rows is not None:
            rows = self._rows
            if all(rows.plain_effects(e.effects) for e in first.values()):  # no session
                won, applied, existing = await self._local.write_plain(
                    lambda c: rows.write_and_look_up(c, None, groups, first)
                )
            else:
                won, applied, existing = await self._local.write(
                    lambda s: rows.write_and_look_up(plain_connection(s), s, groups, first)
                )
        else:
            # Rows in message id order: transactions writing at once that share an id (a
            # retry racing its first copy) take its locks in the same order, never a deadlock.
            first = dict(sorted(first.items()))
            async with self._sessions.begin() as session:
                won, applied = await _write_new(session, first)
            existing = await self._read(_lost(groups, won))
        return [_outcome(group, won, applied, existing) for group in groups]

    async def replace_provisional(
        self, message: Message, decision: Decision, effects: Effects = NO_EFFECTS
    ) -> bool:
        """Replace the stored provisional decision for `message` with the final `decision`
        (and write its effects). False, changing nothing, when the stored decision is not
        provisional or the message is not stored."""
        return await self.finalize(Entry.of(message, decision, effects)) is not None

    async def finalize(self, entry: Entry) -> Applied | None:
        """Replace a provisional decision with the final one in `entry`, with the final one's
        effects, in one transaction. None, changing nothing, when the stored decision is not
        provisional (finalised already, by this process or another) or not stored."""
        write_effects = _effects_writer()
        async with self._sessions.begin() as session:
            changed = await session.execute(
                update(DecisionRow)
                .where(
                    DecisionRow.message_id == entry.message_id,
                    DecisionRow.provisional.is_(True),
                )
                .values(**entry.decision)
            )
            if not changed.rowcount:  # type: ignore[attr-defined]
                return None
            await session.execute(
                update(AssessmentRow)
                .where(AssessmentRow.message_id == entry.message_id)
                .values(**entry.assessment)
            )
            return await write_effects(session, entry.effects)

    async def provisional(
        self, *, before: datetime | None = None, limit: int = 500
    ) -> list[tuple[Message, dict[str, Any]]]:
        """Messages whose stored decision is still provisional (oldest first), with that
        decision: a process stopped before their final decision landed."""
        query = (
            select(MessageRow, DecisionRow.response)
            .join(DecisionRow, DecisionRow.message_id == MessageRow.id)
            .where(DecisionRow.provisional.is_(True))
            .order_by(DecisionRow.created_at)
            .limit(limit)
        )
        if before is not None:
            query = query.where(DecisionRow.created_at < before)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [(_message(row), response) for row, response in rows]

    async def count(self, table: str = "messages") -> int:
        model = {"messages": MessageRow, "assessments": AssessmentRow, "decisions": DecisionRow}
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model[table])) or 0)


def check_same_text(stored: StoredDecision, message: Message) -> None:
    if stored.text_sha256 != text_digest(message.text):
        raise ConflictError(f"message id {message.id!r} was already used for a different message")


def _effects_writer(*, many: bool = False) -> Any:
    # Imported when used: the decision tables import this package's tables.
    from chatguard.decisions import repository

    return repository.write_many_effects if many else repository.write_effects


async def _write_new(session: Any, first: dict[str, Entry]) -> tuple[set[int], dict[str, Applied]]:
    """Insert the entries whose message id is new, with their rows and effects, in
    `session`'s transaction: the entries that won (by `id()`) and what their effects did."""
    table = _MESSAGES
    inserted = set(
        await session.scalars(
            _insert_new(session, table).returning(table.c.id),
            [_message_values(e) for e in first.values()],
        )
    )
    won = [e for e in first.values() if e.message_id in inserted]
    if not won:
        return set(), {}
    await session.execute(
        insert(_ASSESSMENTS),
        [{"message_id": e.message_id, **e.assessment} for e in won],
    )
    await session.execute(insert(_DECISIONS), [_decision_row(e) for e in won])
    applied = {e.message_id: Applied() for e in won}
    if any(not e.effects.empty for e in won):
        results = await _effects_writer(many=True)(session, [e.effects for e in won])
        applied = {e.message_id: a for e, a in zip(won, results, strict=True)}
    return {id(e) for e in won}, applied


class _LocalRows:
    """`_write_new` and `_stored` on a SQLite file's plain connection (`sqlite_rows`): the
    same rows, without SQLAlchemy's per-statement work. The effects of fresh decisions
    (strikes, audit entries, review items, webhook deliveries) go on the same connection
    too (`PlainEffectsWriter`); a supersession is written by the SQLAlchemy session, in the
    same transaction."""

    def __init__(self, dialect: Any) -> None:
        # Imported here: the decision tables import this package's tables.
        from chatguard.decisions.repository import PlainEffectsWriter

        self.messages = RowInsert(_MESSAGES, dialect, skip_taken=True, returning="id")
        self.assessments = RowInsert(_ASSESSMENTS, dialect)
        self.decisions = RowInsert(_DECISIONS, dialect)
        self.look_up = StoredLookUp(_MESSAGES, _DECISIONS, dialect)
        self.effects = PlainEffectsWriter(dialect)

    def plain_effects(self, effects: Effects) -> bool:
        """Whether `effects` can be written without a SQLAlchemy session."""
        return effects.empty or self.effects.can_write(effects)

    def stored(self, connection: Any, message_ids: list[str]) -> dict[str, StoredDecision]:
        return {
            i: StoredDecision(i, digest, response)
            for i, digest, response in self.look_up.run(connection, message_ids)
        }

    def write_and_look_up(
        self,
        connection: Any,
        session: Any,
        groups: list[list[Entry]],
        first: dict[str, Entry],
    ) -> tuple[set[int], dict[str, Applied], dict[str, StoredDecision]]:
        """In one transaction on SQLite (one writer): the stored decisions of the lost ids are
        read right after the insert that lost. `session` (the SQLAlchemy session whose
        transaction `connection` is in) writes the effects when given; None: they are written
        on `connection` (every one passes `plain_effects`)."""
        entries = list(first.values())
        inserted = set(self.messages.run(connection, [_message_values(e) for e in entries]))
        won = [e for e in entries if e.message_id in inserted]
        applied: dict[str, Applied] = {}
        if won:
            self.assessments.run(
                connection, [{"message_id": e.message_id, **e.assessment} for e in won]
            )
            self.decisions.run(connection, [_decision_row(e) for e in won])
            applied = {e.message_id: Applied() for e in won}
            if any(not e.effects.empty for e in won):
                many = [e.effects for e in won]
                if session is None:
                    results = self.effects.write(connection, many)
                else:
                    write = _effects_writer(many=True)
                    results = run_inline(write(InlineSession(session), many))
                applied = {e.message_id: a for e, a in zip(won, results, strict=True)}
        winners = {id(e) for e in won}
        return winners, applied, self.stored(connection, _lost(groups, winners))


def _lost(groups: list[list[Entry]], won: set[int]) -> list[str]:
    return sorted({e.message_id for g in groups for e in g if id(e) not in won})


#: The stored decisions of some message ids (built once: a statement costs CPU to put together).
_STORED_BY_ID = (
    select(MessageRow.id, MessageRow.text_sha256, DecisionRow.response)
    .join(DecisionRow, DecisionRow.message_id == MessageRow.id)
    .where(MessageRow.id.in_(bindparam("ids", expanding=True)))
)


async def _stored(session: Any, message_ids: list[str]) -> dict[str, StoredDecision]:
    found: dict[str, StoredDecision] = {}
    for start in range(0, len(message_ids), READ_GROUP_IDS):
        rows = await session.execute(
            _STORED_BY_ID, {"ids": message_ids[start : start + READ_GROUP_IDS]}
        )
        found.update({r[0]: StoredDecision(r[0], r[1], r[2]) for r in rows})
    return found


def _outcome(
    group: list[Entry],
    winners: set[int],
    applied: dict[str, Applied],
    existing: dict[str, StoredDecision],
) -> Saved | BaseException:
    """One caller's share of a group: its new entries' effects, the stored decisions of its
    other ids, or a `ConflictError` when one of its ids holds another text."""
    mine: dict[str, Applied] = {}
    others: dict[str, StoredDecision] = {}
    for entry in group:
        if id(entry) in winners:
            mine[entry.message_id] = applied[entry.message_id]
            continue
        if entry.message_id in mine:
            continue  # the same message twice in one call: the first one stands
        stored = existing.get(entry.message_id)
        if stored is None:
            continue
        if stored.text_sha256 != entry.message["text_sha256"]:
            return ConflictError(
                f"message id {entry.message_id!r} was already used for a different message"
            )
        others[entry.message_id] = stored
    return Saved(applied=mine, existing=others)


def _decision_row(entry: Entry) -> dict[str, Any]:
    return {"message_id": entry.message_id, "created_at": datetime.now(UTC), **entry.decision}


def _message_values(entry: Entry) -> dict[str, Any]:
    values = dict(entry.message)
    values["received_at"] = datetime.fromisoformat(values["received_at"])
    return values


def _message(row: MessageRow) -> Message:
    roles = frozenset(Role(r) for r in row.roles if r in Role.__members__.values())
    return Message(
        text=row.text,
        user_id=row.user_id,
        channel_id=row.channel_id,
        id=row.id,
        roles=roles,
        timestamp=row.sent_at,
    )


def _insert_new(session: Any, model: Any) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model).on_conflict_do_nothing()


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


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """PostgreSQL connections held open (`size`) and opened beyond them under load
    (`overflow`), per process. SQLite ignores them: its writes go one at a time anyway."""

    size: int = 10
    overflow: int = 10


def _engine_options(url: str, pool: PoolSettings) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # The busy timeout (seconds): another process's write transaction (several API
        # processes on one file) is waited for, not an error.
        options: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
        if sqlite_file(url) is not None:  # an in-memory database has one static connection
            # Each aiosqlite connection is a thread: keep enough open for a busy server's
            # readers, so none is opened and closed per request.
            options.update(pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE)
        return options
    # Recover quickly after an outage: test connections that sat idle before use (a restarted
    # server has closed them all; `liveness`) and give up on a connection attempt after a few
    # seconds. Waiting for a pooled connection under load is no outage: that wait stays long.
    return {
        "pool_size": pool.size,
        "max_overflow": pool.overflow,
        "pool_timeout": 30,
        "pool_recycle": 300,
        "connect_args": {"timeout": CONNECT_TIMEOUT_S, "command_timeout": STATEMENT_TIMEOUT_S},
    }


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
