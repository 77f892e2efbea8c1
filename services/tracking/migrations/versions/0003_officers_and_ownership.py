"""Tracking follows the directory and ownership moves: its own copy of the officers (who may read
what depends on their unit), and per appeal the reason code of its owner, its assistants and the
last ruling on a return.

Revision ID: tracking_0003
Revises: tracking_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "tracking_0003"
down_revision = "tracking_0002"
branch_labels = None
depends_on = None

SCHEMA = "tracking"


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "officers",
        sa.Column("officer_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("unit", sa.String(100), nullable=False),
        sa.Column("supervisor_id", sa.String(64)),
        sa.Column("updated_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("officer_id", name="pk_officers"),
        schema=SCHEMA,
    )
    op.add_column("appeals", sa.Column("assignment_reason_code", sa.String(40)), schema=SCHEMA)
    op.add_column(
        "appeals",
        sa.Column(
            "assistant_officer_ids",
            postgresql.JSONB(),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
        schema=SCHEMA,
    )
    op.add_column("appeals", sa.Column("assistants_changed_at", tz), schema=SCHEMA)
    op.add_column("appeals", sa.Column("last_return_decision", postgresql.JSONB()), schema=SCHEMA)
    op.create_index(
        "ix_appeals_assistants",
        "appeals",
        ["assistant_officer_ids"],
        schema=SCHEMA,
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_index("ix_appeals_assistants", table_name="appeals", schema=SCHEMA)
    for column in (
        "last_return_decision",
        "assistants_changed_at",
        "assistant_officer_ids",
        "assignment_reason_code",
    ):
        op.drop_column("appeals", column, schema=SCHEMA)
    op.drop_table("officers", schema=SCHEMA)
