"""Database access of the decision handler: one method per question, records in and out.

The audit log has `append_audit` and queries only; nothing here updates or deletes it.
`write_effects` writes a decision's side effects inside a transaction the caller owns (the
store's, so they commit or roll back with the decision); every row it writes is keyed by its
message and a repeated write changes nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chatguard.decisions.effects import (
    DECISION_KEY,
    FINAL_KEY,
    SUPERSEDED_KEY,
    Applied,
    Effects,
    effect_key,
)
from chatguard.decisions.outbox import deliveries_for, review_event
from chatguard.decisions.records import (
    AuditEntry,
    Delivery,
    Label,
    PolicyVersion,
    ReviewItem,
    ReviewStatus,
    Strike,
)
from chatguard.decisions.tables import (
    AuditRow,
    PolicyVersionRow,
    ReviewItemRow,
    ReviewLabelRow,
    StrikeRow,
    WebhookDeliveryRow,
)
from chatguard.errors import ConflictError
from chatguard.storage.guard import GuardedSessions
from chatguard.storage.sqlite_rows import RowInsert, sqlalchemy_error

#: The audit entries of some effect keys (built once: a statement costs CPU to put together).
_ENTRIES_BY_KEY = select(AuditRow).where(AuditRow.effect_key.in_(bindparam("keys", expanding=True)))


class DecisionRepository:
    def __init__(self, *, engine: AsyncEngine, look_up: PlainLookUp | None = None) -> None:
        self._sessions = GuardedSessions(async_sessionmaker(engine, expire_on_commit=False))
        #: On a SQLite file, the store's plain read connection (`SqliteLocal.look_up`): the
        #: strike reads every offence makes run there, on the event loop's thread, instead of
        #: through the aiosqlite driver's thread.
        self._plain = _PlainStrikes(look_up, engine.dialect) if look_up is not None else None

    # Policy versions -----------------------------------------------------------------------

    async def add_policy_version(
        self, channel_id: str, document: dict[str, Any] | None, *, actor: str, reason: str
    ) -> PolicyVersion:
        """Store the next version; two writers racing for one number get a ConflictError."""
        async with self._sessions() as session:
            latest = await session.scalar(
                select(func.max(PolicyVersionRow.version)).where(
                    PolicyVersionRow.channel_id == channel_id
                )
            )
            row = PolicyVersionRow(
                channel_id=channel_id,
                version=(latest or 0) + 1,
                document=document,
                actor=actor,
                reason=reason,
            )
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                raise ConflictError(
                    f"the policy of {channel_id!r} changed meanwhile; read it and try again"
                ) from None
            return _policy_version(row)

    async def latest_policy(self, channel_id: str) -> PolicyVersion | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(PolicyVersionRow)
                .where(PolicyVersionRow.channel_id == channel_id)
                .order_by(PolicyVersionRow.version.desc())
                .limit(1)
            )
            return _policy_version(row) if row is not None else None

    async def policy_versions(self, channel_id: str) -> list[PolicyVersion]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(PolicyVersionRow)
                .where(PolicyVersionRow.channel_id == channel_id)
                .order_by(PolicyVersionRow.version)
            )
            return [_policy_version(r) for r in rows]

    # Strikes -------------------------------------------------------------------------------

    async def add_strike(self, strike: Strike) -> None:
        """Store a strike; the message's strike of the same source, if stored, stands."""
        async with self._sessions.begin() as session:
            await session.execute(_insert_new(session, StrikeRow).values(**_fields(strike)))

    async def apply(self, effects: Effects) -> Applied:
        """Write a decision's effects in a transaction of their own (decisions that are not
        stored as messages, such as `POST /decide`'s)."""
        async with self._sessions.begin() as session:
            return await write_effects(session, effects)

    async def apply_many(self, effects: Sequence[Effects]) -> list[Applied]:
        """`apply` for many decisions, in order, in one transaction."""
        if all(e.empty for e in effects):
            return [Applied() for _ in effects]
        chosen = [i for i, e in enumerate(effects) if not e.empty]
        async with self._sessions.begin() as session:
            written = await write_many_effects(session, [effects[i] for i in chosen])
        applied = [Applied() for _ in effects]
        for i, one in zip(chosen, written, strict=True):
            applied[i] = one
        return applied

    async def strike_times(
        self, users: list[tuple[str, str]], *, since: float
    ) -> dict[tuple[str, str], list[float]]:
        """When each (channel, user) was given the strikes since `since`: one query for a
        batch of messages."""
        if self._plain is not None:
            return await self._plain.strike_times(users, since=since)
        found: dict[tuple[str, str], list[float]] = {u: [] for u in users}
        async with self._sessions.reading() as session:
            for start in range(0, len(users), 200):
                chunk = users[start : start + 200]
                rows = await session.execute(
                    select(StrikeRow.channel_id, StrikeRow.user_id, StrikeRow.at).where(
                        StrikeRow.at >= since,
                        or_(
                            *(
                                and_(StrikeRow.channel_id == c, StrikeRow.user_id == u)
                                for c, u in chunk
                            )
                        ),
                    )
                )
                for channel_id, user_id, at in rows:
                    found[(channel_id, user_id)].append(at)
        return found

    async def strikes(self, channel_id: str, user_id: str, *, since: float = 0.0) -> list[Strike]:
        if self._plain is not None:
            return await self._plain.strikes(channel_id, user_id, since=since)
        async with self._sessions() as session:
            rows = await session.scalars(
                select(StrikeRow)
                .where(
                    StrikeRow.channel_id == channel_id,
                    StrikeRow.user_id == user_id,
                    StrikeRow.at >= since,
                )
                .order_by(StrikeRow.at, StrikeRow.id)
            )
            return [_record(Strike, r) for r in rows]

    # Review queue --------------------------------------------------------------------------

    async def add_review(self, item: ReviewItem) -> ReviewItem:
        """Store a held message; holding the same message twice returns the first item."""
        try:
            async with self._sessions.begin() as session:
                session.add(ReviewItemRow(**_fields(item)))
            return item
        except IntegrityError:
            existing = await self.review_by_message(item.message_id)
            if existing is None:
                raise
            return existing

    async def review(self, item_id: str) -> ReviewItem | None:
        async with self._sessions() as session:
            row = await session.get(ReviewItemRow, item_id)
            return _review(row) if row is not None else None

    async def review_by_message(self, message_id: str) -> ReviewItem | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(ReviewItemRow).where(ReviewItemRow.message_id == message_id)
            )
            return _review(row) if row is not None else None

    async def reviews(
        self, *, channel_id: str | None = None, status: ReviewStatus | None = None, limit: int = 100
    ) -> list[ReviewItem]:
        # A crisis first, then oldest first.
        query = (
            select(ReviewItemRow)
            .order_by(ReviewItemRow.priority.desc(), ReviewItemRow.created_at, ReviewItemRow.id)
            .limit(limit)
        )
        if channel_id is not None:
            query = query.where(ReviewItemRow.channel_id == channel_id)
        if status is not None:
            query = query.where(ReviewItemRow.status == status.value)
        async with self._sessions() as session:
            return [_review(r) for r in await session.scalars(query)]

    async def due_reviews(self, now: float, *, limit: int = 100) -> list[ReviewItem]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ReviewItemRow)
                .where(
                    ReviewItemRow.status == ReviewStatus.PENDING.value,
                    ReviewItemRow.expires_at <= now,
                )
                .order_by(ReviewItemRow.expires_at)
                .limit(limit)
            )
            return [_review(r) for r in rows]

    async def resolve_review(
        self,
        item_id: str,
        *,
        status: ReviewStatus,
        at: float,
        by: str,
        outcome: str,
        duration_s: int | None,
        note: str,
    ) -> bool:
        """Resolve a pending item; False when it was resolved already (first resolver wins)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(ReviewItemRow)
                .where(
                    ReviewItemRow.id == item_id,
                    ReviewItemRow.status == ReviewStatus.PENDING.value,
                )
                .values(
                    status=status.value,
                    resolved_at=at,
                    resolved_by=by,
                    outcome=outcome,
                    outcome_duration_s=duration_s,
                    note=note,
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def add_label(self, label: Label) -> None:
        async with self._sessions.begin() as session:
            session.add(ReviewLabelRow(**_fields(label)))

    async def labels(self, *, channel_id: str | None = None, limit: int = 1000) -> list[Label]:
        query = select(ReviewLabelRow).order_by(ReviewLabelRow.id).limit(limit)
        if channel_id is not None:
            query = query.where(ReviewLabelRow.channel_id == channel_id)
        async with self._sessions() as session:
            return [_record(Label, r) for r in await session.scalars(query)]

    # Audit log (append-only) ---------------------------------------------------------------

    async def append_audit(self, entry: AuditEntry) -> AuditEntry:
        fields = _fields(entry)
        fields.pop("id")
        async with self._sessions.begin() as session:
            row = AuditRow(**fields)
            session.add(row)
            await session.flush()
            return _record(AuditEntry, row)

    async def audit_entries(
        self,
        *,
        channel_id: str | None = None,
        user_id: str | None = None,
        actor: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest first; page with `before_id`."""
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        for column, value in (
            (AuditRow.channel_id, channel_id),
            (AuditRow.user_id, user_id),
            (AuditRow.actor, actor),
        ):
            if value is not None:
                query = query.where(column == value)
        if before_id is not None:
            query = query.where(AuditRow.id < before_id)
        async with self._sessions() as session:
            return [_record(AuditEntry, r) for r in await session.scalars(query)]

    async def decision_entries(self, keys: Sequence[str]) -> dict[str, AuditEntry]:
        """The system entries with these effect keys (decisions already recorded, by this
        process or another), by key."""
        found: dict[str, AuditEntry] = {}
        async with self._sessions.reading() as session:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                rows = await session.scalars(_ENTRIES_BY_KEY, {"keys": chunk})
                for row in rows:
                    found[str(row.effect_key)] = _record(AuditEntry, row)
        return found

    # Webhook deliveries --------------------------------------------------------------------

    async def add_delivery(self, delivery: Delivery) -> bool:
        """Put a delivery in the outbox; False when the event is there for this URL already."""
        async with self._sessions.begin() as session:
            return bool(await _add_deliveries(session, (delivery,)))

    async def update_delivery(
        self, delivery_id: str, *, status: str, attempts: int, error: str | None, at: float
    ) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.id == delivery_id)
                .values(status=status, attempts=attempts, last_error=error, updated_at=at)
            )

    async def delivery(self, delivery_id: str) -> Delivery | None:
        async with self._sessions() as session:
            row = await session.get(WebhookDeliveryRow, delivery_id)
            return _record(Delivery, row) if row is not None else None

    async def deliveries(self, *, status: str | None = None, limit: int = 100) -> list[Delivery]:
        query = select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.created_at).limit(limit)
        if status is not None:
            query = query.where(WebhookDeliveryRow.status == status)
        async with self._sessions() as session:
            return [_record(Delivery, r) for r in await session.scalars(query)]


def claim_key(effects: Effects) -> str | None:
    """The effect key of the decision's own audit entry (a first or a final decision), which
    only one decision about a message can hold; None for effects without one."""
    for entry in effects.audit:
        key = entry.effect_key
        if key is not None and key.split(":", 1)[0] in (DECISION_KEY, FINAL_KEY):
            return key
    return None


async def write_effects(session: AsyncSession, effects: Effects) -> Applied:
    """Write `effects` in `session`'s transaction; see `write_many_effects`."""
    return (await write_many_effects(session, [effects]))[0]


#: Runs reads on a plain `sqlite3` connection (`SqliteLocal.look_up`).
PlainLookUp = Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]
#: (channel, user) pairs in one strike query: three parameters each, within SQLite's limit.
STRIKE_USERS_PER_QUERY = 200
_STRIKE_FIELDS = tuple(Strike.__dataclass_fields__)


class _PlainStrikes:
    """The strike reads of `DecisionRepository` as plain SQL on a SQLite file's read
    connection: the same rows (the strike columns are text and floats, which need no
    conversion), SQLite's errors raised as SQLAlchemy's."""

    def __init__(self, look_up: PlainLookUp, dialect: Any) -> None:
        self._look_up = look_up
        self._dialect = dialect
        self._times_pages: dict[int, str] = {}
        self._strikes = (
            f"SELECT {', '.join(_STRIKE_FIELDS)} FROM strikes "
            "WHERE channel_id = ? AND user_id = ? AND at >= ? ORDER BY at, id"
        )

    def _run(self, connection: sqlite3.Connection, sql: str, values: list[Any]) -> list[Any]:
        try:
            return connection.execute(sql, values).fetchall()
        except sqlite3.Error as exc:
            raise sqlalchemy_error(sql, exc, self._dialect) from exc

    def _times_sql(self, count: int) -> str:
        sql = self._times_pages.get(count)
        if sql is None:
            pairs = " OR ".join(["(channel_id = ? AND user_id = ?)"] * count)
            sql = f"SELECT channel_id, user_id, at FROM strikes WHERE at >= ? AND ({pairs})"
            self._times_pages[count] = sql
        return sql

    async def strike_times(
        self, users: list[tuple[str, str]], *, since: float
    ) -> dict[tuple[str, str], list[float]]:
        def read(connection: sqlite3.Connection) -> dict[tuple[str, str], list[float]]:
            found: dict[tuple[str, str], list[float]] = {u: [] for u in users}
            for start in range(0, len(users), STRIKE_USERS_PER_QUERY):
                chunk = users[start : start + STRIKE_USERS_PER_QUERY]
                values: list[Any] = [since, *(v for user in chunk for v in user)]
                for channel_id, user_id, at in self._run(
                    connection, self._times_sql(len(chunk)), values
                ):
                    found[(channel_id, user_id)].append(at)
            return found

        found: dict[tuple[str, str], list[float]] = await self._look_up(read)
        return found

    async def strikes(self, channel_id: str, user_id: str, *, since: float) -> list[Strike]:
        def read(connection: sqlite3.Connection) -> list[Strike]:
            rows = self._run(connection, self._strikes, [channel_id, user_id, since])
            return [Strike(*row) for row in rows]

        found: list[Strike] = await self._look_up(read)
        return found


async def write_many_effects(session: AsyncSession, many: list[Effects]) -> list[Applied]:
    """Write the effects of several decisions in `session`'s transaction, a few statements
    for all of them. Rows whose key is taken are left alone, so writing the same effects twice
    leaves one of each. A decision's own audit entry (its effect key, see `claim_key`) is
    written first and claims the message: when another decision about it holds the key
    already (a retry decided again, or a concurrent writer, whose transaction is waited for),
    nothing else of this one is written and its `Applied.taken` says so, so the strike, the
    review item and the entry stored always belong to one decision. Returns, per decision, the
    review events its writing made (a new hold, a supersession) and the deliveries actually
    added (only those may be sent)."""
    claims = [claim_key(e) for e in many]
    keys = {k for k in claims if k is not None}
    claimed = await _insert_rows(
        session,
        AuditRow,
        [_entry_fields(a) for e in many for a in e.audit if a.effect_key in keys],
        returning=AuditRow.effect_key,
    )
    taken = [key is not None and key not in claimed for key in claims]
    if any(taken):
        kept = [e for e, t in zip(many, taken, strict=True) if not t]
        rest = iter(await _write_unclaimed(session, kept))
        return [Applied(taken=True) if t else next(rest) for t in taken]
    return await _write_unclaimed(session, many)


async def _write_unclaimed(session: AsyncSession, many: list[Effects]) -> list[Applied]:
    """`write_many_effects` after the claims were written: everything else."""
    if not many:
        return []
    await _insert_rows(session, StrikeRow, [_fields(e.strike) for e in many if e.strike])
    await _insert_rows(session, AuditRow, _unclaimed_entries(many))
    items = [e.review for e in many if e.review is not None]
    held = await _insert_rows(
        session, ReviewItemRow, [_fields(i) for i in items], returning=ReviewItemRow.id
    )
    events: list[list[dict[str, Any]]] = []
    for effects in many:
        made = _held(effects, held)
        if effects.supersede is not None:
            superseded = await _supersede(session, effects)
            if superseded is not None:
                made.append(superseded)
        events.append(made)
    planned = _planned_deliveries(many, events)
    added = await _insert_rows(
        session,
        WebhookDeliveryRow,
        [_fields(d) for ds in planned for d in ds],
        returning=WebhookDeliveryRow.id,
    )
    return _applied(many, events, planned, held, added)


def _unclaimed_entries(many: list[Effects]) -> list[dict[str, Any]]:
    """The audit rows of `many` other than their claims (written first)."""
    own = {k for k in map(claim_key, many) if k is not None}
    return [
        _entry_fields(a)
        for e in many
        for a in e.audit
        if a.effect_key is None or a.effect_key not in own
    ]


class PlainEffectsWriter:
    """`write_many_effects` on a SQLite file's plain `sqlite3` connection, in the transaction
    it is in (`chatguard.storage.sqlite_rows`): the same rows in the same order (a decision's
    claim on its message first, see `claim_key`), each skipped when its key is taken, without
    a SQLAlchemy session's per-statement work. A supersession (a final decision's) reads and
    updates a review item and stays with `write_many_effects`."""

    def __init__(self, dialect: Any) -> None:
        self.strikes = RowInsert(_table(StrikeRow), dialect, skip_taken=True, omit=("id",))
        self.audit = RowInsert(_table(AuditRow), dialect, skip_taken=True, omit=("id",))
        self.claims = RowInsert(
            _table(AuditRow), dialect, skip_taken=True, returning="effect_key", omit=("id",)
        )
        self.reviews = RowInsert(_table(ReviewItemRow), dialect, skip_taken=True, returning="id")
        self.deliveries = RowInsert(
            _table(WebhookDeliveryRow), dialect, skip_taken=True, returning="id"
        )

    @staticmethod
    def can_write(effects: Effects) -> bool:
        return effects.supersede is None

    def write(self, connection: Any, many: list[Effects]) -> list[Applied]:
        """As `write_many_effects`; every effect must pass `can_write`."""
        assert all(self.can_write(e) for e in many), "a supersession needs the session"
        claims = [claim_key(e) for e in many]
        keys = {k for k in claims if k is not None}
        claimed = set(
            self.claims.run(
                connection,
                [_entry_fields(a) for e in many for a in e.audit if a.effect_key in keys],
            )
        )
        taken = [key is not None and key not in claimed for key in claims]
        if any(taken):
            kept = [e for e, t in zip(many, taken, strict=True) if not t]
            rest = iter(self._unclaimed(connection, kept))
            return [Applied(taken=True) if t else next(rest) for t in taken]
        return self._unclaimed(connection, many)

    def _unclaimed(self, connection: Any, many: list[Effects]) -> list[Applied]:
        if not many:
            return []
        self.strikes.run(connection, [_fields(e.strike) for e in many if e.strike])
        self.audit.run(connection, _unclaimed_entries(many))
        items = [_fields(e.review) for e in many if e.review is not None]
        held = set(self.reviews.run(connection, items))
        events = [_held(effects, held) for effects in many]
        planned = _planned_deliveries(many, events)
        added = set(self.deliveries.run(connection, [_fields(d) for ds in planned for d in ds]))
        return _applied(many, events, planned, held, added)


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def _held(effects: Effects, held: set[Any]) -> list[dict[str, Any]]:
    if effects.review is not None and effects.review.id in held:
        return [held_event(effects.review)]
    return []


def _planned_deliveries(
    many: list[Effects], events: list[list[dict[str, Any]]]
) -> list[tuple[Delivery, ...]]:
    """Per decision: its own deliveries and those of the review events its writing made."""
    return [
        effects.deliveries
        + tuple(d for e in made for d in deliveries_for(e, effects.webhook_urls, float(e["at"])))
        for effects, made in zip(many, events, strict=True)
    ]


def _applied(
    many: list[Effects],
    events: list[list[dict[str, Any]]],
    planned: list[tuple[Delivery, ...]],
    held: set[Any],
    added: set[Any],
) -> list[Applied]:
    return [
        Applied(
            events=tuple(made),
            deliveries=tuple(d for d in deliveries if d.id in added),
            held=effects.review is not None and effects.review.id in held,
            superseded=any(e["type"] == "review.superseded" for e in made),
        )
        for effects, made, deliveries in zip(many, events, planned, strict=True)
    ]


async def _insert_rows(
    session: AsyncSession, model: Any, rows: list[dict[str, Any]], *, returning: Any = None
) -> set[Any]:
    """Insert rows whose key is free; with `returning`, the inserted rows' values of it."""
    # A Core executemany: SQLAlchemy renders multi-row VALUES pages from one cached statement
    # (building `.values([...])` anew per call compiled a statement of every bound value).
    if not rows:
        return set()
    statement = _insert_new(session, model.__table__)
    if returning is None:
        await session.execute(statement, rows)
        return set()
    column = model.__table__.c[returning.key]
    return set(await session.scalars(statement.returning(column), rows))


def _entry_fields(entry: AuditEntry) -> dict[str, Any]:
    fields = _fields(entry)
    fields.pop("id")
    return fields


def held_event(item: ReviewItem) -> dict[str, Any]:
    """The `review.held` event of a newly held message."""
    return review_event("review.held", item, action="hold", duration_s=None, at=item.created_at)


async def _supersede(session: AsyncSession, effects: Effects) -> dict[str, Any] | None:
    """Resolve the message's pending review item as superseded; its event, or None when there
    is none pending (never held, or a moderator was faster)."""
    plan = effects.supersede
    assert plan is not None
    row = await session.scalar(
        select(ReviewItemRow).where(
            ReviewItemRow.message_id == plan.message_id,
            ReviewItemRow.status == ReviewStatus.PENDING.value,
        )
    )
    if row is None:
        return None
    item = _review(row)
    result = await session.execute(
        update(ReviewItemRow)
        .where(ReviewItemRow.id == item.id, ReviewItemRow.status == ReviewStatus.PENDING.value)
        .values(
            status=ReviewStatus.SUPERSEDED.value,
            resolved_at=plan.at,
            resolved_by=SYSTEM,
            outcome=plan.outcome,
            outcome_duration_s=None,
            note=plan.note,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    item = replace(
        item,
        status=ReviewStatus.SUPERSEDED,
        resolved_at=plan.at,
        resolved_by=SYSTEM,
        outcome=plan.outcome,
        note=plan.note,
    )
    await _add_entry(
        session,
        AuditEntry(
            at=plan.at,
            actor=SYSTEM,
            actor_kind=SYSTEM,
            action="review.superseded",
            channel_id=item.channel_id,
            user_id=item.user_id,
            message_id=item.message_id,
            reason=plan.note,
            details={"review_id": item.id, "outcome": plan.outcome},
            effect_key=effect_key(SUPERSEDED_KEY, item.message_id),
        ),
    )
    return review_event("review.superseded", item, action=plan.outcome, duration_s=None, at=plan.at)


#: The actor and kind of automated entries (`audit.SYSTEM`; that module imports this one).
SYSTEM = "system"


async def _add_entry(session: AsyncSession, entry: AuditEntry) -> None:
    await _insert_rows(session, AuditRow, [_entry_fields(entry)])


async def _add_deliveries(
    session: AsyncSession, deliveries: tuple[Delivery, ...]
) -> tuple[Delivery, ...]:
    added = await _insert_rows(
        session,
        WebhookDeliveryRow,
        [_fields(d) for d in deliveries],
        returning=WebhookDeliveryRow.id,
    )
    return tuple(d for d in deliveries if d.id in added)


def _insert_new(session: AsyncSession, model: Any) -> Any:
    """An INSERT that leaves a row alone whose unique key is taken (ON CONFLICT DO NOTHING)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model).on_conflict_do_nothing()


def _fields(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def _record(kind: Any, row: Any) -> Any:
    return kind(**{name: getattr(row, name) for name in kind.__dataclass_fields__})


def _review(row: ReviewItemRow) -> ReviewItem:
    item: ReviewItem = _record(ReviewItem, row)
    return replace(item, status=ReviewStatus(row.status))


def _policy_version(row: PolicyVersionRow) -> PolicyVersion:
    version: PolicyVersion = _record(PolicyVersion, row)
    return version
