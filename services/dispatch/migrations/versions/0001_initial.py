"""Dispatch's first tables: officers, enterprises, assignments, outbox, inbox.

Revision ID: dispatch_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import create_inbox, create_outbox

revision = "dispatch_0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "dispatch"


def upgrade() -> None:
    now = sa.func.now()
    op.create_table(
        "officers",
        sa.Column("officer_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("unit", sa.String(100), nullable=False),
        sa.Column("on_duty", sa.Boolean(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("categories", postgresql.JSONB(), nullable=False),
        sa.Column("communities", postgresql.JSONB(), nullable=False),
        sa.Column("supervisor_id", sa.String(64)),
        sa.Column("paired_officer_id", sa.String(64)),
        sa.Column("open_assignments", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.PrimaryKeyConstraint("officer_id", name="pk_officers"),
        schema=SCHEMA,
    )
    op.create_table(
        "enterprises",
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("chain", sa.String(40), nullable=False),
        sa.Column("community", sa.String(100), nullable=False),
        sa.Column("cso_officer_id", sa.String(64)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.PrimaryKeyConstraint("credit_code", name="pk_enterprises"),
        schema=SCHEMA,
    )
    op.create_table(
        "assignments",
        sa.Column("appeal_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("officer_id", sa.String(64), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False, server_default="true"),
        sa.PrimaryKeyConstraint("appeal_id", name="pk_assignments"),
        schema=SCHEMA,
    )
    op.create_index("ix_assignments_officer_id", "assignments", ["officer_id"], schema=SCHEMA)
    create_outbox(op, SCHEMA)
    create_inbox(op, SCHEMA)


def downgrade() -> None:
    for table in ("inbox", "outbox", "assignments", "enterprises", "officers"):
        op.drop_table(table, schema=SCHEMA)
