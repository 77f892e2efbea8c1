"""Each appeal's status as tracking last announced it (appeals.lifecycle), and when it changed:
follow-up results are taken only while an appeal is resolved.

Appeals from before keep no status (intake then leaves the decision to tracking), except those
known to be closed.

Revision ID: intake_0005
Revises: intake_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0005"
down_revision = "intake_0004"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("appeals", sa.Column("status", sa.String(32)), schema=SCHEMA)
    op.add_column(
        "appeals", sa.Column("status_changed_at", sa.DateTime(timezone=True)), schema=SCHEMA
    )
    op.execute(
        f"""UPDATE {SCHEMA}.appeals SET status = 'closed', status_changed_at = closed_at
            WHERE closed_at IS NOT NULL"""
    )


def downgrade() -> None:
    for column in ("status_changed_at", "status"):
        op.drop_column("appeals", column, schema=SCHEMA)
