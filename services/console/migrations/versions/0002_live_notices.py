"""Live notices for open pages.

Revision ID: console_0002
Revises: console_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "console_0002"
down_revision = "console_0001"
branch_labels = None
depends_on = None

SCHEMA = "console"


def upgrade() -> None:
    op.create_table(
        "live_notices",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("appeal_id", sa.String(36), nullable=False),
        sa.Column("tracking_code", sa.String(40)),
        sa.Column("officer_id", sa.String(100)),
        sa.Column("unit", sa.String(100)),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_live_notices"),
        schema=SCHEMA,
    )
    for column in ("officer_id", "unit", "at"):
        op.create_index(f"ix_live_notices_{column}", "live_notices", [column], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("live_notices", schema=SCHEMA)
