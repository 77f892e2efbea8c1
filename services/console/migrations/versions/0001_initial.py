"""The console's first tables: sessions, outbox, inbox.

Revision ID: console_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import create_inbox, create_outbox

revision = "console_0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "console"


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "sessions",
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("roles", postgresql.JSONB(), nullable=False),
        sa.Column("unit", sa.String(100)),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", tz, nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("session_hash", name="pk_sessions"),
        schema=SCHEMA,
    )
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"], schema=SCHEMA)
    create_outbox(op, SCHEMA)
    create_inbox(op, SCHEMA)


def downgrade() -> None:
    op.drop_table("inbox", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
    op.drop_table("sessions", schema=SCHEMA)
