"""Leave, departments, chain teams and duty posts; the routing trace, returns and assistants.

Revision ID: dispatch_0002
Revises: dispatch_0001
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "dispatch_0002"
down_revision = "dispatch_0001"
branch_labels = None
depends_on = None

SCHEMA = "dispatch"


def upgrade() -> None:
    now = sa.func.now()
    jsonb = postgresql.JSONB()
    for column in (
        sa.Column("leave", jsonb, nullable=False, server_default="[]"),
        sa.Column("department_id", sa.String(64)),
        sa.Column("chain", sa.String(40)),
        sa.Column("returns_accepted", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("returns_rejected", sa.Integer(), nullable=False, server_default="0"),
    ):
        op.add_column("officers", column, schema=SCHEMA)
    op.create_index("ix_officers_department_id", "officers", ["department_id"], schema=SCHEMA)
    op.create_index("ix_officers_chain", "officers", ["chain"], schema=SCHEMA)
    op.create_table(
        "departments",
        sa.Column("department_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("categories", jsonb, nullable=False),
        sa.Column("supervisor_id", sa.String(64)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.PrimaryKeyConstraint("department_id", name="pk_departments"),
        schema=SCHEMA,
    )
    op.create_table(
        "duty",
        sa.Column("post", sa.String(20), nullable=False),
        sa.Column("officer_id", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.PrimaryKeyConstraint("post", name="pk_duty"),
        schema=SCHEMA,
    )
    assignment_columns: list[sa.Column[Any]] = [
        sa.Column("routing_input", jsonb, nullable=False, server_default="{}"),
        sa.Column("rules", jsonb, nullable=False, server_default="[]"),
        sa.Column("excluded_officer_ids", jsonb, nullable=False, server_default="[]"),
        sa.Column("accepted_returns", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("assistant_officer_ids", jsonb, nullable=False, server_default="[]"),
        sa.Column("tracking_code", sa.String(32)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    ]
    for column in assignment_columns:
        op.add_column("assignments", column, schema=SCHEMA)
    op.create_table(
        "returns",
        sa.Column("return_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("appeal_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("officer_id", sa.String(64), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.Column("automatic", sa.Boolean(), nullable=False, server_default="false"),
        sa.PrimaryKeyConstraint("return_id", name="pk_returns"),
        schema=SCHEMA,
    )
    op.create_index("ix_returns_appeal_id", "returns", ["appeal_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("returns", schema=SCHEMA)
    for column in (
        "updated_at",
        "tracking_code",
        "assistant_officer_ids",
        "accepted_returns",
        "excluded_officer_ids",
        "rules",
        "routing_input",
    ):
        op.drop_column("assignments", column, schema=SCHEMA)
    op.drop_table("duty", schema=SCHEMA)
    op.drop_table("departments", schema=SCHEMA)
    op.drop_index("ix_officers_chain", "officers", schema=SCHEMA)
    op.drop_index("ix_officers_department_id", "officers", schema=SCHEMA)
    for column in ("returns_rejected", "returns_accepted", "chain", "department_id", "leave"):
        op.drop_column("officers", column, schema=SCHEMA)
