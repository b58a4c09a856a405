"""The store keeper: whether the database answers, and what happens to decisions when it does
not. It stores decisions (with their effects) when it can and spools them when it cannot,
flushes the spool in the background when the database is back, and runs the service's
recovery of provisional decisions once the database can be read.

A failed database call marks the database as away; from then on requests do not wait for it
(they decide from what the process knows and spool) until a background ping finds it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from chatguard.decisions.effects import Applied, Effects
from chatguard.errors import ConflictError, StoreUnavailableError
from chatguard.storage.metrics import StorageMetrics
from chatguard.storage.spool import EFFECTS, FINAL, FINAL_EFFECTS, SAVE, Spool, Spooled
from chatguard.storage.store import Entry, SqlStore, StoredDecision

log = logging.getLogger(__name__)

#: Seconds between the background rounds (ping while away, flush, recovery).
INTERVAL_S = 0.5
#: Seconds `close` spends storing what is spooled.
CLOSE_FLUSH_S = 5.0
#: Answers of the messages this process stored last, kept to answer a retry of one of them
#: while the database is away (a client that lost an answer sends the message again within
#: seconds); about 5 KB each as Python objects, so 25 MB.
RECENT_ANSWERS = 5_000


@dataclass(frozen=True, slots=True)
class Persisted:
    """Where a batch of decisions went. `applied`: by message id, what the new decisions'
    effects did (empty when spooled). `existing`: decisions stored or spooled before under
    the same ids, which stand."""

    stored: bool
    applied: dict[str, Applied] = field(default_factory=dict)
    existing: dict[str, StoredDecision] = field(default_factory=dict)
    new: frozenset[str] = frozenset()


#: Called with what flushing one spooled entry did (its kind and the effects' outcome).
Flushed = Callable[[str, Entry, Applied], Awaitable[None]]
#: Writes the effects of decisions whose messages another process stores, in one transaction.
EffectsWriter = Callable[[Sequence[Effects]], Awaitable[list[Applied]]]


class StoreKeeper:
    def __init__(
        self,
        *,
        store: SqlStore,
        spool: Spool | None,
        metrics: StorageMetrics,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.store = store
        self.spool = spool
        self.metrics = metrics
        store.observe_groups(metrics.observe_group)
        self.interval_s = interval_s
        self.online = True
        self.migrated = False
        #: The stored decisions of the last `RECENT_ANSWERS` messages stored, oldest first.
        self._recent: OrderedDict[str, StoredDecision] = OrderedDict()
        self.on_flushed: Flushed | None = None
        self.effects_writer: EffectsWriter | None = None
        self.recovery: Callable[[], Awaitable[object]] | None = None
        self._recovered = False
        self._task: asyncio.Task[None] | None = None
        self._recovery_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Migrate (if the database answers; otherwise later), open a spool left by an earlier
        run, and start the background rounds."""
        try:
            await self.store.start()
            self.migrated = True
        except StoreUnavailableError:
            self.failed("migrate")
            log.warning("the database is unavailable at start; moderation goes on without it")
        if self.spool is not None:
            await self.spool.open()
            self.metrics.depth.set(len(self.spool))
        self._task = asyncio.create_task(self._rounds(), name="store-keeper")

    async def close(self) -> None:
        """Stop the rounds; store what the spool holds if the database answers (briefly: what
        is left waits in the file for the next start)."""
        for task in (self._task, self._recovery_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._recovery_task = None
        if self.spool is not None and len(self.spool):
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_FLUSH_S):
                    if self.online or await self.store.ping():
                        await self.flush()
        if self.spool is not None:
            await self.spool.close()

    def failed(self, operation: str) -> None:
        """A database call failed: count it, and stop waiting for the database."""
        self.metrics.failures.labels(operation).inc()
        if self.online:
            log.warning("database unavailable (%s); decisions go to the spool", operation)
        self.online = False

    @property
    def refusing(self) -> bool:
        """Would a new decision be refused now (database away, spool full or off)?"""
        return not self.online and (self.spool is None or self.spool.full)

    async def stored(self, message_ids: Sequence[str]) -> dict[str, StoredDecision]:
        """Decisions already made for these ids: spooled, or stored (if the database is up)."""
        found: dict[str, StoredDecision] = {}
        if self.spool is not None and len(self.spool):
            found.update({i: e.stored for i, e in (await self.spool.get_many(message_ids)).items()})
        missing = [i for i in message_ids if i not in found]
        if missing and self.online:
            started = time.perf_counter()
            try:
                found.update(await self.store.get_many(missing))
                missing = []
            except StoreUnavailableError:
                self.failed("read")
            self.metrics.store_seconds.labels("read").observe(time.perf_counter() - started)
        if missing:
            # The database is away: a retry of a message stored just before gets its answer,
            # not a second decision that the stored one would then contradict.
            found.update({i: self._recent[i] for i in missing if i in self._recent})
        return found

    def _remember(self, decisions: Sequence[StoredDecision]) -> None:
        """Keep the answers of messages just stored (new ids: each goes in last)."""
        recent = self._recent
        for decision in decisions:
            recent[decision.message_id] = decision
        while len(recent) > RECENT_ANSWERS:
            recent.popitem(last=False)

    async def persist(self, entries: Sequence[Entry]) -> Persisted:
        """Store the entries with their effects, or spool them if the database is away.
        Raises `SpoolFullError` (or `StoreUnavailableError` without a spool)."""
        if self.online:
            started = time.perf_counter()
            try:
                saved = await self.store.save_entries(entries)
                self._remember([e.stored for e in entries if e.message_id in saved.applied])
                return Persisted(True, saved.applied, saved.existing, frozenset(saved.applied))
            except StoreUnavailableError:
                self.failed("save")
            finally:
                self.metrics.store_seconds.labels("save").observe(time.perf_counter() - started)
        spooled = await self._spool(entries, SAVE)
        given = _by_id(entries)
        new = frozenset(i for i, s in spooled.items() if s.entry is given.get(i))
        existing = {i: s.entry.stored for i, s in spooled.items() if i not in new}
        self.metrics.spool.labels("spooled").inc(len(new))
        return Persisted(False, existing=existing, new=new)

    async def finalize(self, entry: Entry) -> Applied | None:
        """Replace a provisional decision, or spool the replacement if the database is away.
        None when there was nothing to replace (finalised already) or the spool is full."""
        # A decision still in the spool is replaced after it is stored, in spool order.
        self._recent.pop(entry.message_id, None)  # its stored answer is about to change
        waiting = self.spool is not None and self.spool.holds(entry.message_id)
        if self.online and not waiting:
            try:
                return await self.store.finalize(entry)
            except StoreUnavailableError:
                self.failed("finalize")
        try:
            await self._spool([entry], FINAL)
        except StoreUnavailableError:
            # The provisional decision stays stored; the next start finalises it.
            self.metrics.spool.labels("refused").inc()
            return None
        self.metrics.spool.labels("spooled").inc()
        return Applied(spooled=True)

    async def spooled_effects(
        self, message_ids: Sequence[str], *, final: bool = False
    ) -> dict[str, Entry]:
        """Decisions of these ids whose effects wait in the spool (see `spool_effects`)."""
        if self.spool is None:
            return {}
        return await self.spool.get_many(message_ids, FINAL_EFFECTS if final else EFFECTS)

    async def spool_effects(self, entries: Sequence[Entry], *, final: bool = False) -> None:
        """Keep the effects of decisions whose messages another process stores (the decision
        role's) until the database is back; each is written once then. Raises
        `SpoolFullError` (or `StoreUnavailableError` without a spool)."""
        if not entries:
            return
        spooled = await self._spool(entries, FINAL_EFFECTS if final else EFFECTS)
        given = {id(e) for e in entries}
        self.metrics.spool.labels("spooled").inc(
            sum(1 for s in spooled.values() if id(s.entry) in given)
        )

    async def _spool(self, entries: Sequence[Entry], kind: str) -> dict[str, Spooled]:
        if self.spool is None or self.spool.max_messages == 0:
            raise StoreUnavailableError("the database is unavailable; try again later")
        try:
            return await self.spool.add(entries, kind)
        except StoreUnavailableError:
            self.metrics.spool.labels("refused").inc(len(entries))
            raise
        finally:
            self.metrics.depth.set(len(self.spool))

    # -- background rounds ----------------------------------------------------------------

    async def _rounds(self) -> None:
        while True:
            try:
                await self.round()
            except StoreUnavailableError:
                self.failed("flush")
            except Exception as exc:  # keep going; the next round may do better
                log.warning("store keeper round failed: %s", type(exc).__name__, exc_info=exc)
            await asyncio.sleep(self.interval_s)

    async def round(self) -> None:
        """One round: find the database back if it was away, migrate if that is pending,
        flush the spool, run the recovery once."""
        if not self.online:
            if not await self.store.ping():
                return
            log.info("the database is back")
            self.online = True
        if not self.migrated:
            await self.store.start()
            self.migrated = True
        await self.flush()
        if not self._recovered and self.recovery is not None:
            # In a task of its own: it waits for the adjudicator, the flushing must not.
            self._recovered = True
            self._recovery_task = asyncio.create_task(self._recover(), name="recovery")

    async def _recover(self) -> None:
        assert self.recovery is not None
        try:
            await self.recovery()
        except StoreUnavailableError:
            self.failed("recover")
            self._recovered = False  # again when the database is back
        except Exception as exc:
            log.warning("recovery of provisional decisions failed: %s", type(exc).__name__)

    async def flush(self) -> int:
        """Store what the spool holds, oldest first; returns how many entries went."""
        if self.spool is None:
            return 0
        done = 0
        while len(self.spool):
            batch = await self.spool.take()
            if not batch:
                break
            for kind, group in _runs(batch):
                await self._flush_group(kind, group)
                await self.spool.remove(group)
                done += len(group)
                self.metrics.spool.labels("flushed").inc(len(group))
                self.metrics.depth.set(len(self.spool))
        return done

    async def _flush_group(self, kind: str, group: list[Spooled]) -> None:
        if kind in (EFFECTS, FINAL_EFFECTS):
            if self.effects_writer is None:
                raise RuntimeError("spooled effects and nothing to write them")
            outcomes = await self.effects_writer([s.entry.effects for s in group])
            for item, outcome in zip(group, outcomes, strict=True):
                await self._flushed(kind, item.entry, outcome)
            return
        if kind == FINAL:
            for item in group:
                applied = await self.store.finalize(item.entry)
                if applied is not None:
                    await self._flushed(kind, item.entry, applied)
            return
        try:
            saved = await self.store.save_entries([s.entry for s in group])
        except ConflictError:
            # One id was used for another text meanwhile: store the rest one by one.
            for item in group:
                try:
                    one = await self.store.save_entries([item.entry])
                except ConflictError:
                    self.metrics.spool.labels("dropped").inc()
                    log.warning("spooled decision %s conflicts; dropped", item.entry.message_id)
                    continue
                for applied in one.applied.values():
                    await self._flushed(kind, item.entry, applied)
            return
        by_id = {s.entry.message_id: s.entry for s in group}
        for message_id, applied in saved.applied.items():
            await self._flushed(kind, by_id[message_id], applied)

    async def _flushed(self, kind: str, entry: Entry, applied: Applied) -> None:
        if self.on_flushed is not None:
            await self.on_flushed(kind, entry, applied)


def _by_id(entries: Sequence[Entry]) -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    for entry in entries:
        found.setdefault(entry.message_id, entry)
    return found


def _runs(batch: list[Spooled]) -> list[tuple[str, list[Spooled]]]:
    """Consecutive entries of one kind, in order (a final after the decision it replaces)."""
    runs: list[tuple[str, list[Spooled]]] = []
    for item in batch:
        if runs and runs[-1][0] == item.kind:
            runs[-1][1].append(item)
        else:
            runs.append((item.kind, [item]))
    return runs
