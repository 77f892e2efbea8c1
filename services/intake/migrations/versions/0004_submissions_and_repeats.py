"""Submissions by (channel, external_id), and what intake needs to find repeats: the
appellant's phone and credit code, the classification, and when tracking closed the appeal.

Revision ID: intake_0004
Revises: intake_0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "intake_0004"
down_revision = "intake_0003"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("appeals", sa.Column("phone", sa.String(32)), schema=SCHEMA)
    op.add_column("appeals", sa.Column("enterprise_credit_code", sa.String(18)), schema=SCHEMA)
    op.add_column("appeals", sa.Column("classification", postgresql.JSONB()), schema=SCHEMA)
    op.add_column("appeals", sa.Column("closed_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.execute(
        f"""UPDATE {SCHEMA}.appeals SET
              phone = submission #>> '{{appellant,phone}}',
              enterprise_credit_code = submission #>> '{{appellant,enterprise_credit_code}}'"""
    )
    op.create_index("ix_appeals_phone", "appeals", ["phone"], schema=SCHEMA)
    op.create_index(
        "ix_appeals_enterprise_credit_code", "appeals", ["enterprise_credit_code"], schema=SCHEMA
    )
    op.create_table(
        "submissions",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("appeal_id", postgresql.UUID(as_uuid=True)),
        sa.Column("tracking_code", sa.String(32)),
        sa.Column("score", sa.Float()),
        sa.Column("reason", sa.Text()),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "external_id", name="pk_submissions"),
        schema=SCHEMA,
    )
    op.create_index("ix_submissions_appeal_id", "submissions", ["appeal_id"], schema=SCHEMA)
    # Appeals accepted before this revision answered their submissions too.
    op.execute(
        f"""INSERT INTO {SCHEMA}.submissions
              (channel, external_id, outcome, appeal_id, tracking_code, received_at)
            SELECT channel, external_id, 'received', appeal_id, tracking_code, received_at
            FROM {SCHEMA}.appeals"""
    )


def downgrade() -> None:
    op.drop_table("submissions", schema=SCHEMA)
    for index in ("ix_appeals_enterprise_credit_code", "ix_appeals_phone"):
        op.drop_index(index, table_name="appeals", schema=SCHEMA)
    for column in ("closed_at", "classification", "enterprise_credit_code", "phone"):
        op.drop_column("appeals", column, schema=SCHEMA)
