"""Events heard before their appeal's receipt wait for it (`waiting_events`); wrong guesses at
the public status page are counted per code and per client (`status_guesses`).

Revision ID: tracking_0006
Revises: tracking_0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "tracking_0006"
down_revision = "tracking_0005"
branch_labels = None
depends_on = None

SCHEMA = "tracking"


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "waiting_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("appeal_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("envelope", postgresql.JSONB(), nullable=False),
        sa.Column("parked_at", tz, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_waiting_events"),
        schema=SCHEMA,
    )
    op.create_index("ix_waiting_events_appeal_id", "waiting_events", ["appeal_id"], schema=SCHEMA)
    op.create_table(
        "status_guesses",
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("window_start", tz, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", "window_start", name="pk_status_guesses"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_status_guesses_window_start", "status_guesses", ["window_start"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_table("status_guesses", schema=SCHEMA)
    op.drop_table("waiting_events", schema=SCHEMA)
