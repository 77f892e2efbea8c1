"""Intake's first tables: appeals, outbox, inbox.

Revision ID: intake_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import create_inbox, create_outbox

revision = "intake_0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    op.create_table(
        "appeals",
        sa.Column("appeal_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("tracking_code", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("submission", postgresql.JSONB(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("appeal_id", name="pk_appeals"),
        sa.UniqueConstraint("tracking_code", name="uq_appeals_tracking_code"),
        sa.UniqueConstraint("channel", "external_id", name="uq_appeals_channel_external_id"),
        schema=SCHEMA,
    )
    create_outbox(op, SCHEMA)
    create_inbox(op, SCHEMA)


def downgrade() -> None:
    for table in ("inbox", "outbox", "appeals"):
        op.drop_table(table, schema=SCHEMA)
