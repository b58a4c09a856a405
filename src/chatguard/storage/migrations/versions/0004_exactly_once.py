"""Exactly-once side effects: unique keys on strikes, system audit entries and webhook
deliveries (the outbox), after removing the duplicates earlier releases could write.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Duplicates left by decisions that were written once per retry: keep the first of each.
DEDUPE_STRIKES = """
    DELETE FROM strikes WHERE id NOT IN (
        SELECT MIN(id) FROM strikes GROUP BY message_id, source
    )
"""
DEDUPE_SYSTEM_DECISIONS = """
    DELETE FROM audit_log
    WHERE actor_kind = 'system' AND message_id IS NOT NULL AND action LIKE 'decision.%'
      AND id NOT IN (
        SELECT MIN(id) FROM audit_log
        WHERE actor_kind = 'system' AND message_id IS NOT NULL AND action LIKE 'decision.%'
        GROUP BY message_id, action
      )
"""


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    bind = op.get_bind()
    op.execute(DEDUPE_STRIKES)
    op.create_index("uq_strikes_message_source", "strikes", ["message_id", "source"], unique=True)

    op.add_column("audit_log", sa.Column("effect_key", sa.String(200), nullable=True))
    # The log is append-only; this one clean-up of repeated system entries is the exception.
    if _postgres():
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_rewrite")
    op.execute(DEDUPE_SYSTEM_DECISIONS)
    if _postgres():
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_rewrite")
    op.create_index("uq_audit_effect_key", "audit_log", ["effect_key"], unique=True)

    op.add_column("webhook_deliveries", sa.Column("message_id", sa.String(128), nullable=True))
    _backfill_deliveries(bind)
    op.create_index(
        "uq_webhook_deliveries_event",
        "webhook_deliveries",
        ["message_id", "url", "event_type"],
        unique=True,
    )
    op.create_index("ix_decisions_provisional", "decisions", ["provisional"])


def _backfill_deliveries(bind: sa.engine.Connection) -> None:
    """Each delivery's message id from its body; of repeated deliveries of one event to one
    URL, keep a delivered one if any, else the oldest."""
    rows = bind.execute(
        sa.text(
            "SELECT id, url, event_type, body, status, created_at FROM webhook_deliveries "
            "ORDER BY created_at, id"
        )
    ).all()
    kept: dict[tuple[str, str, str], tuple[str, str]] = {}
    drop: list[str] = []
    ids: dict[str, str] = {}
    for delivery_id, url, event_type, body, status, _ in rows:
        try:
            message_id = json.loads(body).get("message_id")
        except (ValueError, AttributeError):
            message_id = None
        if not message_id:
            continue
        key = (str(message_id), url, event_type)
        first = kept.get(key)
        if first is None:
            kept[key] = (delivery_id, status)
        elif status == "delivered" and first[1] != "delivered":
            drop.append(first[0])
            ids.pop(first[0], None)
            kept[key] = (delivery_id, status)
        else:
            drop.append(delivery_id)
            continue
        ids[delivery_id] = str(message_id)
    update = sa.text("UPDATE webhook_deliveries SET message_id = :m WHERE id = :i")
    delete = sa.text("DELETE FROM webhook_deliveries WHERE id = :i")
    for delivery_id in drop:
        bind.execute(delete, {"i": delivery_id})
    for delivery_id, message_id in ids.items():
        bind.execute(update, {"m": message_id, "i": delivery_id})


def downgrade() -> None:
    op.drop_index("ix_decisions_provisional", "decisions")
    op.drop_index("uq_webhook_deliveries_event", "webhook_deliveries")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("message_id")
    op.drop_index("uq_audit_effect_key", "audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("effect_key")
    op.drop_index("uq_strikes_message_source", "strikes")
