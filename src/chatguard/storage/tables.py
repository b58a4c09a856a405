"""Database tables (SQLAlchemy 2). Kept apart from the API's request and response schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    sent_at: Mapped[float] = mapped_column(Float)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    __table_args__ = (
        Index("ix_messages_channel_received", "channel_id", "received_at"),
        Index("ix_messages_user", "user_id", "channel_id"),
        # Retention finds old text by age.
        Index("ix_messages_received", "received_at"),
    )


class AssessmentRow(Base):
    __tablename__ = "assessments"

    message_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    route: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str] = mapped_column(String(64))
    flagged: Mapped[bool] = mapped_column(Boolean)
    escalated: Mapped[bool] = mapped_column(Boolean)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    spans: Mapped[list[Any]] = mapped_column(JSON)
    trail: Mapped[list[Any]] = mapped_column(JSON)


class DecisionRow(Base):
    __tablename__ = "decisions"

    message_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    action: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text)
    policy: Mapped[str] = mapped_column(String(64))
    duration_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    processing_time_ms: Mapped[float] = mapped_column(Float)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    # Finding the decisions a restart left provisional.
    __table_args__ = (
        Index("ix_decisions_provisional", "provisional"),
        Index("ix_decisions_created", "created_at"),
        Index("ix_decisions_provisional_created", "provisional", "created_at"),
    )
