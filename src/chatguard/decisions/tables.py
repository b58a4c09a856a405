"""Tables of the decision handler, on the store's `Base` (migration 0002 creates them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chatguard.storage.tables import Base, _now


class PolicyVersionRow(Base):
    """Every change of a channel's policy override; the highest version is in force.
    `document` is None when the override was removed (the channel is back on the default)."""

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    __table_args__ = (UniqueConstraint("channel_id", "version", name="uq_policy_versions"),)


class StrikeRow(Base):
    __tablename__ = "strikes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    message_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(16))
    rung: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_strikes_user", "channel_id", "user_id", "at"),
        # One automatic strike per message, one by review: a retried decision adds none.
        Index("uq_strikes_message_source", "message_id", "source", unique=True),
    )


class ReviewItemRow(Base):
    """A held message waiting for a moderator (or resolved). The text is kept so a moderator
    can read it; it never leaves through logs or events."""

    __tablename__ = "review_items"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), unique=True)
    channel_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    default_action: Mapped[str] = mapped_column(String(16))
    default_duration_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    outcome_duration_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Higher first in the queue (migration 0005_review_priority); a crisis is 100.
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        Index("ix_review_items_status", "status", "expires_at"),
        Index("ix_review_items_channel", "channel_id", "status"),
        # The queue by status or channel in arrival order; a user's items; retention by age.
        Index("ix_review_items_channel_created", "channel_id", "status", "created_at"),
        Index("ix_review_items_user", "channel_id", "user_id"),
        Index("ix_review_items_created", "created_at"),
        Index("ix_review_items_queue", "status", "priority", "created_at"),
    )


class ReviewLabelRow(Base):
    """A review outcome kept as a training and evaluation label."""

    __tablename__ = "review_labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(128))
    channel_id: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(16))  # "violation" or "acceptable"
    categories: Mapped[list[Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16))  # "moderator" or "timeout"
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_review_labels_channel", "channel_id", "created_at"),
        Index("ix_review_labels_created", "created_at"),
    )


class AuditRow(Base):
    """Append-only: the repository offers no update or delete, and on PostgreSQL a trigger
    refuses them."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(128))
    actor_kind: Mapped[str] = mapped_column(String(16))  # "system" or "human"
    action: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: "decision:<message id>", "final:<message id>", …: one system entry of each kind per
    #: message; NULL (never conflicting) for human actions.
    effect_key: Mapped[str | None] = mapped_column(String(200), nullable=True)

    __table_args__ = (
        Index("ix_audit_channel", "channel_id", "id"),
        Index("ix_audit_actor", "actor", "id"),
        Index("ix_audit_user", "user_id", "id"),
        Index("ix_audit_at", "at"),
        Index("uq_audit_effect_key", "effect_key", unique=True),
    )


class WebhookDeliveryRow(Base):
    """One event to one endpoint: pending, delivered, or dead (the dead-letter store)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    message_id: Mapped[str | None] = mapped_column(String(128), nullable=True)

    __table_args__ = (
        Index("ix_webhook_deliveries_status", "status", "created_at"),
        # The outbox: one delivery of a message's event to each endpoint.
        Index("uq_webhook_deliveries_event", "message_id", "url", "event_type", unique=True),
    )
