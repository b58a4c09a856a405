"""Persistence: every message, assessment and decision, in SQLite or PostgreSQL."""

from chatguard.storage.store import SqlStore, StoredDecision

__all__ = ["SqlStore", "StoredDecision"]
