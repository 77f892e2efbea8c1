"""Appeals carry their classification (type, category, urgency and who decided each) and every
submission that raised them (the original and each repeat merged into it).

Revision ID: tracking_0002
Revises: tracking_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "tracking_0002"
down_revision = "tracking_0001"
branch_labels = None
depends_on = None

SCHEMA = "tracking"


def upgrade() -> None:
    op.add_column("appeals", sa.Column("appeal_type", sa.String(16)), schema=SCHEMA)
    op.add_column(
        "appeals",
        sa.Column(
            "classified_by",
            postgresql.JSONB(),
            nullable=False,
            server_default=sa.text("'{}'::jsonb"),
        ),
        schema=SCHEMA,
    )
    op.add_column(
        "appeals",
        sa.Column("times_raised", sa.Integer(), nullable=False, server_default=sa.text("0")),
        schema=SCHEMA,
    )
    op.add_column(
        "appeals",
        sa.Column(
            "submissions",
            postgresql.JSONB(),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
        schema=SCHEMA,
    )
    # Appeals received before this revision were raised once; their original submission's
    # external id was never kept, so their submissions list stays empty (the projection still
    # counts the original for them).
    op.execute(f"UPDATE {SCHEMA}.appeals SET times_raised = 1 WHERE received_at IS NOT NULL")


def downgrade() -> None:
    for column in ("submissions", "times_raised", "classified_by", "appeal_type"):
        op.drop_column("appeals", column, schema=SCHEMA)
