"""Indexes for the queries the API, the console and the background jobs make: the audit log
by user and by time, the review queue by status or channel in arrival order, decisions by time,
message and review text by age (retention), review items by user (erasure).

Revision ID: 0006
Revises: 0005_review_priority
Create Date: 2026-12-03
"""

from alembic import op

revision = "0006"
down_revision = "0005_review_priority"
branch_labels = None
depends_on = None

#: (index name, table, columns); the tables' `__table_args__` declare the same.
INDEXES = (
    # GET /audit?user_id=…&before_id=… (newest first); by channel: ix_audit_channel (0002).
    ("ix_audit_user", "audit_log", ["user_id", "id"]),
    # The audit log over a time range.
    ("ix_audit_at", "audit_log", ["at"]),
    # GET /review?status=… and ?channel_id=…&status=…, oldest first.
    ("ix_review_items_channel_created", "review_items", ["channel_id", "status", "created_at"]),
    # Erasure of a user's review items.
    ("ix_review_items_user", "review_items", ["channel_id", "user_id"]),
    # Retention: resolved review text and label text older than the cut-off.
    ("ix_review_items_created", "review_items", ["created_at"]),
    ("ix_review_labels_created", "review_labels", ["created_at"]),
    # Retention: message text older than the cut-off (by channel: ix_messages_channel_received).
    ("ix_messages_received", "messages", ["received_at"]),
    # Decisions by time; the provisional ones oldest first (recovery at start).
    ("ix_decisions_created", "decisions", ["created_at"]),
    ("ix_decisions_provisional_created", "decisions", ["provisional", "created_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, if_not_exists=True)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table, if_exists=True)
