"""One pending return per appeal, the holder's: returns left pending when their appeal moved or
closed before any ruling are settled as `superseded`, then the database refuses a second.

Revision ID: dispatch_0003
Revises: dispatch_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "dispatch_0003"
down_revision = "dispatch_0002"
branch_labels = None
depends_on = None

SCHEMA = "dispatch"
INDEX = "uq_returns_one_pending_per_appeal"


def upgrade() -> None:
    # A pending return whose officer no longer holds the open appeal has nothing left to rule
    # on; of a holder's pending returns (never more than one so far) only the latest stays.
    op.execute(
        f"""
        UPDATE {SCHEMA}.returns AS r
        SET status = 'superseded', decided_by = 'dispatch', decided_at = now(),
            note = '退单尚未裁定，诉求已改派或结案，无需再裁定'
        WHERE r.status = 'pending'
          AND (
            NOT EXISTS (
              SELECT 1 FROM {SCHEMA}.assignments AS a
              WHERE a.appeal_id = r.appeal_id AND a.open AND a.officer_id = r.officer_id
            )
            OR r.return_id <> (
              SELECT latest.return_id FROM {SCHEMA}.returns AS latest
              WHERE latest.appeal_id = r.appeal_id AND latest.status = 'pending'
              ORDER BY latest.requested_at DESC, latest.return_id DESC
              LIMIT 1
            )
          )
        """
    )
    op.create_index(
        INDEX,
        "returns",
        ["appeal_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="returns", schema=SCHEMA)
