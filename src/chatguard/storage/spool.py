"""The spool: a bounded, durable buffer of decisions waiting for the database.

While the database is away, moderation goes on: accepted decisions (with their effects) are
written to a local SQLite file before they are answered, and stored when the database is back.
The file survives a crash of the process (write-ahead log, each write committed with a sync);
it holds at most `max_messages` entries, after which `add` refuses with `SpoolFullError`.

Entries are of four kinds: a decision to store (`save`) and a final decision to replace a
provisional one (`final`); and, for a decision whose message another process stores (the
decision role's), its effects alone (`effects`, and `final-effects` for a final decision).
Each is kept at most once per message id, and taken back in arrival order.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chatguard.errors import SpoolFullError
from chatguard.storage.store import Entry

SAVE, FINAL = "save", "final"
EFFECTS, FINAL_EFFECTS = "effects", "final-effects"
#: Seconds a caller refused by a full spool is told to wait.
RETRY_AFTER_S = 5

SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (kind, message_id)
)
"""


@dataclass(frozen=True, slots=True)
class Spooled:
    seq: int
    kind: str
    entry: Entry


class Spool:
    """The file is made on the first write, so a healthy database never leaves one behind."""

    def __init__(self, path: Path, *, max_messages: int) -> None:
        self.path = path
        self.max_messages = max_messages
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        # Ids of spooled decisions (kind `save`), so a retry's lookup needs no disk read.
        self._ids: set[str] = set()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def holds(self, message_id: str) -> bool:
        """Is a decision of this message waiting here (not yet stored)?"""
        return message_id in self._ids

    @property
    def full(self) -> bool:
        return self._size >= self.max_messages

    async def open(self) -> None:
        """Open the spool a previous run left (if any), to flush it."""
        if self.path.exists():
            await asyncio.to_thread(self._connect)

    async def close(self) -> None:
        """Close the file; an empty spool leaves no file behind."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
                if self._size == 0:
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    async def add(self, entries: Sequence[Entry], kind: str = SAVE) -> dict[str, Spooled]:
        """Spool the entries (all or none); returns, per message id, the spooled entry: the
        given one, or the one spooled earlier under that id (which stands)."""
        return await asyncio.to_thread(self._add, list(entries), kind)

    async def get_many(self, message_ids: Sequence[str], kind: str = SAVE) -> dict[str, Entry]:
        """Spooled entries of this kind (decisions to store by default) of these ids."""
        wanted = [i for i in message_ids if i in self._ids] if kind == SAVE else list(message_ids)
        if not wanted or not self._size:
            return {}
        return await asyncio.to_thread(self._get_many, wanted, kind)

    async def take(self, limit: int = 200) -> list[Spooled]:
        """The oldest entries, in arrival order (they stay spooled until `remove`)."""
        if not self._size:
            return []
        return await asyncio.to_thread(self._take, limit)

    async def remove(self, spooled: Sequence[Spooled]) -> None:
        """Forget entries once they are stored."""
        if spooled:
            await asyncio.to_thread(self._remove, list(spooled))

    # -- in a worker thread, one at a time ------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute(SCHEMA)
            self._ids = {
                row[0]
                for row in connection.execute(
                    "SELECT message_id FROM spool WHERE kind = ?", (SAVE,)
                )
            }
            self._size = int(connection.execute("SELECT COUNT(*) FROM spool").fetchone()[0])
            self._connection = connection
        return self._connection

    def _add(self, entries: list[Entry], kind: str) -> dict[str, Spooled]:
        with self._lock:
            connection = self._connect()
            unique: dict[str, Entry] = {}
            for entry in entries:
                unique.setdefault(entry.message_id, entry)
            found = self._select(connection, kind, list(unique))
            new = [e for i, e in unique.items() if i not in found]
            if new and self._size + len(new) > self.max_messages:
                raise SpoolFullError(
                    "the database is unavailable and the local buffer is full; try again later",
                    retry_after_s=RETRY_AFTER_S,
                )
            connection.execute("BEGIN IMMEDIATE")
            try:
                for entry in new:
                    cursor = connection.execute(
                        "INSERT INTO spool (kind, message_id, body) VALUES (?, ?, ?)",
                        (kind, entry.message_id, json.dumps(entry.to_json())),
                    )
                    found[entry.message_id] = Spooled(int(cursor.lastrowid or 0), kind, entry)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            self._size += len(new)
            if kind == SAVE:
                self._ids.update(e.message_id for e in new)
            return found

    def _get_many(self, message_ids: list[str], kind: str) -> dict[str, Entry]:
        with self._lock:
            found = self._select(self._connect(), kind, message_ids)
            return {i: s.entry for i, s in found.items()}

    @staticmethod
    def _select(connection: sqlite3.Connection, kind: str, ids: list[str]) -> dict[str, Spooled]:
        found: dict[str, Spooled] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = (
                "SELECT seq, message_id, body FROM spool "
                f"WHERE kind = ? AND message_id IN ({marks})"
            )
            rows = connection.execute(query, (kind, *chunk))
            for seq, message_id, body in rows:
                found[message_id] = Spooled(seq, kind, Entry.from_json(json.loads(body)))
        return found

    def _take(self, limit: int) -> list[Spooled]:
        with self._lock:
            rows = self._connect().execute(
                "SELECT seq, kind, body FROM spool ORDER BY seq LIMIT ?", (limit,)
            )
            return [Spooled(s, k, Entry.from_json(json.loads(b))) for s, k, b in rows]

    def _remove(self, spooled: list[Spooled]) -> None:
        with self._lock:
            connection = self._connect()
            connection.execute("BEGIN IMMEDIATE")
            removed = 0
            for item in spooled:
                removed += connection.execute(
                    "DELETE FROM spool WHERE seq = ?", (item.seq,)
                ).rowcount
            connection.execute("COMMIT")
            self._size = max(0, self._size - removed)
            for item in spooled:
                if item.kind == SAVE:
                    self._ids.discard(item.entry.message_id)


def spool_path(database_url: str, setting: str) -> Path:
    """Where the spool lives: SPOOL_PATH (a file, or a directory to put one in); by default
    beside a SQLite database, or in the working directory."""
    if setting:
        path = Path(setting)
        return path / "chatguard-spool.sqlite3" if path.is_dir() else path
    prefix = "sqlite+aiosqlite:///"
    if database_url.startswith(prefix) and database_url[len(prefix) :] not in ("", ":memory:"):
        return Path(database_url[len(prefix) :] + ".spool")
    return Path("chatguard-spool.sqlite3")
