"""The delivery lease names its claim (the notify issue's defect 5): an outcome is recorded only
by the claim that still holds the row, so a late one (the row leased again, resent or already
recorded) is dropped instead of clashing with the attempt recorded meanwhile.

Revision ID: notify_0003
Revises: notify_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "notify_0003"
down_revision = "notify_0002"
branch_labels = None
depends_on = None

SCHEMA = "notify"


def upgrade() -> None:
    op.add_column(
        "notifications",
        sa.Column("lease_id", postgresql.UUID(as_uuid=True)),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("notifications", "lease_id", schema=SCHEMA)
