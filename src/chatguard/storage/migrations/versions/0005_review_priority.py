"""Review priority: a crisis hold (a self-harm disclosure) is listed ahead of ordinary holds.

Self-contained: one column with a server default (existing items are ordinary, 0) and the
index the queue is read through.

Revision ID: 0005_review_priority
Revises: 0004
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_review_priority"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "review_items",
        sa.Column("priority", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_review_items_queue", "review_items", ["status", "priority", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_review_items_queue", "review_items")
    with op.batch_alter_table("review_items") as batch:
        batch.drop_column("priority")
