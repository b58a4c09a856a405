"""The `api_keys` table (migration 0003), on the store's `Base`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from chatguard.storage.tables import Base, _now


class ApiKeyRow(Base):
    """One API key: its owner, scopes and limits, and the SHA-256 of the key (never the key)."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[Any]] = mapped_column(JSON)
    may_assert_roles: Mapped[bool] = mapped_column(Boolean, default=False)
    rate_per_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_api_keys_owner", "owner"),)
