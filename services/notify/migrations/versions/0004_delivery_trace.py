"""A notification keeps the trace context it was decided in (issue 14, traces): the delivery
worker sends it later, in a span of the same trace as the appeal's request.

Revision ID: notify_0004
Revises: notify_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "notify_0004"
down_revision = "notify_0003"
branch_labels = None
depends_on = None

SCHEMA = "notify"


def upgrade() -> None:
    op.add_column("notifications", sa.Column("traceparent", sa.Text()), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("notifications", "traceparent", schema=SCHEMA)
