"""The store's hot statements on a SQLite file, on the plain `sqlite3` connection.

Every request looks up its message id and every group commit inserts three rows a message.
Through SQLAlchemy each of those statements cost a few hundred microseconds of CPU (execution
context, ORM session, result objects) against tens for SQLite itself: more than the database
work, on the event loop's thread. Here they are plain SQL run on the connection the session
(or the look-up connection) holds, in the same transaction. The values are converted with
SQLAlchemy's own converters of each column's type for the dialect (JSON text, SQLite's datetime
text, booleans as integers), so the rows are the ones SQLAlchemy wrote and reads back, and
SQLite's errors are raised as the SQLAlchemy errors the store already handles (parameters
hidden). PostgreSQL keeps the SQLAlchemy statements.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError

#: Rows in one multi-row INSERT ... RETURNING (8 columns: 4,000 parameters, well within
#: SQLite's 32,766).
PAGE_ROWS = 500
#: Ids in one look-up (within SQLite's parameter limit).
PAGE_IDS = 500

Convert = Callable[[Any], Any]


def sqlalchemy_error(statement: str, exc: sqlite3.Error, dialect: Dialect) -> StatementError:
    """SQLite's error as SQLAlchemy raises it (an `OperationalError`, `IntegrityError`, ...),
    without the parameters."""
    return DBAPIError.instance(
        statement, None, exc, sqlite3.Error, hide_parameters=True, dialect=dialect
    )


class RowInsert:
    """INSERT of whole rows of `table` (every column given but those in `omit`, which the
    database fills: an autoincrement key), optionally skipping rows whose key is taken and
    returning one column of the rows inserted."""

    def __init__(
        self,
        table: Table,
        dialect: Dialect,
        *,
        skip_taken: bool = False,
        returning: str = "",
        omit: tuple[str, ...] = (),
    ) -> None:
        quote = dialect.identifier_preparer.quote
        columns = [c for c in table.c if c.key not in omit]
        self.dialect = dialect
        self.keys = tuple(c.key for c in columns)
        self._converters: tuple[tuple[int, Convert], ...] = tuple(
            (i, convert)
            for i, c in enumerate(columns)
            if (convert := c.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        )
        self._head = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) VALUES "
        )
        self._row = "(" + ", ".join("?" * len(columns)) + ")"
        self._tail = (" ON CONFLICT DO NOTHING" if skip_taken else "") + (
            f" RETURNING {quote(returning)}" if returning else ""
        )
        self._returning = bool(returning)
        self._pages: dict[int, str] = {}

    def values(self, row: dict[str, Any]) -> list[Any]:
        values = [row[key] for key in self.keys]
        for index, convert in self._converters:
            values[index] = convert(values[index])
        return values

    def _sql(self, count: int) -> str:
        sql = self._pages.get(count)
        if sql is None:
            sql = self._head + ", ".join([self._row] * count) + self._tail
            self._pages[count] = sql
        return sql

    def run(self, connection: sqlite3.Connection, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """Insert `rows`; the returned column of those inserted (nothing without `returning`)."""
        if not rows:
            return []
        if not self._returning:
            sql = self._sql(1)
            try:
                connection.executemany(sql, [self.values(r) for r in rows])
            except sqlite3.Error as exc:
                raise sqlalchemy_error(sql, exc, self.dialect) from exc
            return []
        found: list[Any] = []
        for start in range(0, len(rows), PAGE_ROWS):
            page = rows[start : start + PAGE_ROWS]
            sql = self._sql(len(page))
            flat = [v for r in page for v in self.values(r)]
            try:
                found.extend(r[0] for r in connection.execute(sql, flat).fetchall())
            except sqlite3.Error as exc:
                raise sqlalchemy_error(sql, exc, self.dialect) from exc
        return found


class StoredLookUp:
    """The stored decisions of message ids: (id, text digest, the stored answer)."""

    def __init__(self, messages: Table, decisions: Table, dialect: Dialect) -> None:
        quote = dialect.identifier_preparer.quote
        m, d = quote(messages.name), quote(decisions.name)
        self.dialect = dialect
        self._head = (
            f"SELECT {m}.{quote('id')}, {m}.{quote('text_sha256')}, {d}.{quote('response')} "
            f"FROM {m} JOIN {d} ON {d}.{quote('message_id')} = {m}.{quote('id')} "
            f"WHERE {m}.{quote('id')} IN "
        )
        response = decisions.c.response.type.dialect_impl(dialect)
        self._decode: Convert | None = response.result_processor(dialect, None)
        self._pages: dict[int, str] = {}

    def run(
        self, connection: sqlite3.Connection, message_ids: Sequence[str]
    ) -> Iterable[tuple[str, str, Any]]:
        decode = self._decode
        found: list[tuple[str, str, Any]] = []
        for start in range(0, len(message_ids), PAGE_IDS):
            page = message_ids[start : start + PAGE_IDS]
            sql = self._pages.get(len(page))
            if sql is None:
                sql = self._head + "(" + ", ".join("?" * len(page)) + ")"
                self._pages[len(page)] = sql
            try:
                rows = connection.execute(sql, page).fetchall()
            except sqlite3.Error as exc:
                raise sqlalchemy_error(sql, exc, self.dialect) from exc
            if decode is None:
                found.extend(rows)
            else:
                found.extend((i, digest, decode(response)) for i, digest, response in rows)
        return found
