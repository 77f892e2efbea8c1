"""The sequence behind tracking-code numbers (scrambled before they are printed).

Revision ID: intake_0003
Revises: intake_0002
"""

from alembic import op

revision = "intake_0003"
down_revision = "intake_0002"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    # A sequence, not a counter row: replicas draw numbers without waiting on each other's
    # transactions (gaps after a rollback are harmless).
    op.execute(f"CREATE SEQUENCE {SCHEMA}.tracking_code_seq AS bigint START 1")


def downgrade() -> None:
    op.execute(f"DROP SEQUENCE {SCHEMA}.tracking_code_seq")
