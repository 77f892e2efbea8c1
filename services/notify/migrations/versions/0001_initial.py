"""Notify's first tables: notifications, recorded_messages, outbox, inbox.

Revision ID: notify_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import create_inbox, create_outbox

revision = "notify_0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "notify"


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    uuid = postgresql.UUID(as_uuid=True)
    op.create_table(
        "notifications",
        sa.Column("notification_id", uuid, nullable=False),
        sa.Column("event_id", uuid, nullable=False),
        sa.Column("appeal_id", uuid),
        sa.Column("recipient", sa.String(100), nullable=False),
        sa.Column("medium", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(500)),
        sa.Column("created_at", tz, nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", tz),
        sa.PrimaryKeyConstraint("notification_id", name="pk_notifications"),
        sa.UniqueConstraint("event_id", "recipient", "medium", name="uq_notifications_once"),
        schema=SCHEMA,
    )
    op.create_index("ix_notifications_appeal_id", "notifications", ["appeal_id"], schema=SCHEMA)
    op.create_index(
        "ix_notifications_pending",
        "notifications",
        ["created_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "recorded_messages",
        sa.Column("notification_id", uuid, nullable=False),
        sa.Column("recipient", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("recorded_at", tz, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("notification_id", name="pk_recorded_messages"),
        schema=SCHEMA,
    )
    create_outbox(op, SCHEMA)
    create_inbox(op, SCHEMA)


def downgrade() -> None:
    for table in ("inbox", "outbox", "recorded_messages", "notifications"):
        op.drop_table(table, schema=SCHEMA)
