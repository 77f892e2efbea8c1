"""The last four digits of the appellant's phone, for the public status page.

Revision ID: tracking_0004
Revises: tracking_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "tracking_0004"
down_revision = "tracking_0003"
branch_labels = None
depends_on = None

SCHEMA = "tracking"


def upgrade() -> None:
    op.add_column("appeals", sa.Column("phone_last4", sa.String(4)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("appeals", "phone_last4", schema=SCHEMA)
