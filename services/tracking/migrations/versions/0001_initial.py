"""Tracking's first tables: appeals, history, outbox, inbox.

Revision ID: tracking_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import create_inbox, create_outbox

revision = "tracking_0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "tracking"


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "appeals",
        sa.Column("appeal_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("status", sa.String(32)),
        sa.Column("tracking_code", sa.String(32)),
        sa.Column("channel", sa.String(32)),
        sa.Column("category", sa.String(40)),
        sa.Column("urgency", sa.String(16)),
        sa.Column("summary", sa.String(200)),
        sa.Column("community", sa.String(100)),
        sa.Column("enterprise_credit_code", sa.String(18)),
        sa.Column("received_at", tz),
        sa.Column("officer_id", sa.String(64)),
        sa.Column("assigned_at", tz),
        sa.Column("assignment_reason", sa.String(500)),
        sa.Column("updated_at", tz, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("appeal_id", name="pk_appeals"),
        schema=SCHEMA,
    )
    op.create_index("ix_appeals_tracking_code", "appeals", ["tracking_code"], schema=SCHEMA)
    op.create_index(
        "ix_appeals_officer_queue",
        "appeals",
        ["officer_id", "assigned_at", "appeal_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "history",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("appeal_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("occurred_at", tz, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("note", sa.String(1000)),
        sa.PrimaryKeyConstraint("id", name="pk_history"),
        sa.UniqueConstraint("event_id", name="uq_history_event_id"),
        schema=SCHEMA,
    )
    op.create_index("ix_history_appeal_id", "history", ["appeal_id"], schema=SCHEMA)
    create_outbox(op, SCHEMA)
    create_inbox(op, SCHEMA)


def downgrade() -> None:
    for table in ("inbox", "outbox", "history", "appeals"):
        op.drop_table(table, schema=SCHEMA)
