"""Channel keys (who may push appeals in) and the signatures already seen (replay guard).

Revision ID: intake_0002
Revises: intake_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "intake_0002"
down_revision = "intake_0001"
branch_labels = None
depends_on = None

SCHEMA = "intake"


def upgrade() -> None:
    op.create_table(
        "channel_keys",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(32)), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_channel_keys"),
        schema=SCHEMA,
    )
    op.create_table(
        "seen_signatures",
        sa.Column("signature", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("signature", name="pk_seen_signatures"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_seen_signatures_expires_at", "seen_signatures", ["expires_at"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index("ix_seen_signatures_expires_at", table_name="seen_signatures", schema=SCHEMA)
    op.drop_table("seen_signatures", schema=SCHEMA)
    op.drop_table("channel_keys", schema=SCHEMA)
