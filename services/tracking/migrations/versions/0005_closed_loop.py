"""The closed loop (issue 6): the lifecycle's state and milestones on each appeal, the appellant's
contact for the officers, durable deadlines, extension requests, the access log of personal-data
reads, and the read model for the chief service officers' monthly "five ones".

Revision ID: tracking_0005
Revises: tracking_0004
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "tracking_0005"
down_revision = "tracking_0004"
branch_labels = None
depends_on = None

SCHEMA = "tracking"

FALSE = sa.text("false")
ZERO = sa.text("0")
EMPTY = sa.text("'[]'::jsonb")


def _appeal_columns() -> list[sa.Column[Any]]:
    tz = sa.DateTime(timezone=True)
    return [
        sa.Column("appellant_name", sa.String(100)),
        sa.Column("appellant_phone", sa.String(32)),
        sa.Column("anonymous", sa.Boolean(), nullable=False, server_default=FALSE),
        sa.Column("contacted", sa.Boolean(), nullable=False, server_default=FALSE),
        sa.Column("resolution", sa.String(2000)),
        sa.Column("reopen_count", sa.Integer(), nullable=False, server_default=ZERO),
        sa.Column("escalated", sa.Boolean(), nullable=False, server_default=FALSE),
        sa.Column("status_before_return", sa.String(32)),
        sa.Column("follow_up_refs", postgresql.JSONB(), nullable=False, server_default=EMPTY),
        sa.Column("unreachable_count", sa.Integer(), nullable=False, server_default=ZERO),
        sa.Column("closed_reason", sa.String(16)),
        sa.Column("accepted_at", tz),
        sa.Column("first_contacted_at", tz),
        sa.Column("resolved_at", tz),
        sa.Column("closed_at", tz),
        sa.Column("followed_up_at", tz),
        sa.Column("follow_up_solved", sa.Boolean()),
        sa.Column("follow_up_satisfaction", sa.String(24)),
        sa.Column("unreasonable_at", tz),
        sa.Column("unreasonable_by", sa.String(100)),
        sa.Column("unreasonable_reason", sa.String(1000)),
        sa.Column("due_at", tz),
        sa.Column("due_stage", sa.String(20)),
    ]


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    for column in _appeal_columns():
        op.add_column("appeals", column, schema=SCHEMA)
    op.create_index("ix_appeals_received_at", "appeals", ["received_at"], schema=SCHEMA)
    op.create_table(
        "deadlines",
        sa.Column("appeal_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("start_at", tz, nullable=False),
        sa.Column("start_basis", sa.String(20), nullable=False),
        sa.Column("due_at", tz, nullable=False),
        sa.Column("warn_at", tz, nullable=False),
        sa.Column("public_notice_at", tz, nullable=False),
        sa.Column("rule_dimension", sa.String(16), nullable=False),
        sa.Column("rule_value", sa.String(40)),
        sa.Column("rule_limit", sa.String(40), nullable=False),
        sa.Column("capped_by", sa.String(20)),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("extensions", postgresql.JSONB(), nullable=False, server_default=EMPTY),
        sa.Column("met_at", tz),
        sa.Column("reminders_sent", sa.Integer(), nullable=False, server_default=ZERO),
        sa.Column("warned_at", tz),
        sa.Column("urged_at", tz),
        sa.Column("noticed_at", tz),
        sa.Column("next_fire_at", tz),
        sa.Column("updated_at", tz, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("appeal_id", "stage", name="pk_deadlines"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_deadlines_next_fire_at",
        "deadlines",
        ["next_fire_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("next_fire_at IS NOT NULL"),
    )
    op.create_table(
        "extensions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("appeal_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("requested_at", tz, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(100)),
        sa.Column("decided_at", tz),
        sa.Column("note", sa.String(1000)),
        sa.Column("previous_due_at", tz),
        sa.Column("new_due_at", tz),
        sa.PrimaryKeyConstraint("id", name="pk_extensions"),
        schema=SCHEMA,
    )
    op.create_index("ix_extensions_appeal_id", "extensions", ["appeal_id"], schema=SCHEMA)
    op.create_index(
        "uq_extensions_pending",
        "extensions",
        ["appeal_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("at", tz, nullable=False, server_default=sa.func.now()),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("roles", postgresql.JSONB(), nullable=False),
        sa.Column("appeal_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("fields", postgresql.JSONB(), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_log"),
        schema=SCHEMA,
    )
    op.create_index("ix_access_log_appeal_id", "access_log", ["appeal_id"], schema=SCHEMA)
    op.create_table(
        "enterprises",
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("community", sa.String(100)),
        sa.Column("cso_officer_id", sa.String(64)),
        sa.Column("updated_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("credit_code", name="pk_enterprises"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_enterprises_cso_officer_id", "enterprises", ["cso_officer_id"], schema=SCHEMA
    )
    op.create_table(
        "cso_contacts",
        sa.Column("ref", sa.String(100), nullable=False),
        sa.Column("officer_id", sa.String(64), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("contacted_at", tz, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("ref", name="pk_cso_contacts"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_cso_contacts_officer_month",
        "cso_contacts",
        ["officer_id", "contacted_at"],
        schema=SCHEMA,
    )
    op.create_table(
        "five_ones_reminders",
        sa.Column("officer_id", sa.String(64), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("sent_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("officer_id", "month", name="pk_five_ones_reminders"),
        schema=SCHEMA,
    )
    op.create_table(
        "cso_reports",
        sa.Column("officer_id", sa.String(64), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("officer_id", "month", name="pk_cso_reports"),
        schema=SCHEMA,
    )
    op.create_table(
        "cso_proposals",
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("officer_ids", postgresql.JSONB(), nullable=False),
        sa.Column("proposed_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("month", name="pk_cso_proposals"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in (
        "cso_proposals",
        "cso_reports",
        "five_ones_reminders",
        "cso_contacts",
        "enterprises",
        "access_log",
        "extensions",
        "deadlines",
    ):
        op.drop_table(table, schema=SCHEMA)
    op.drop_index("ix_appeals_received_at", table_name="appeals", schema=SCHEMA)
    for column in reversed(_appeal_columns()):
        op.drop_column("appeals", column.name, schema=SCHEMA)
