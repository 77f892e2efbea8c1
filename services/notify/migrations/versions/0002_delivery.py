"""Real delivery (the notify issue): notifications get their words' subject and language, the
address they go to, a persisted retry schedule and an attempt log; notify keeps its own copies
of the appeals' appellants and channels, the officers' contacts and the enterprises' CSOs.

Revision ID: notify_0002
Revises: notify_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "notify_0002"
down_revision = "notify_0001"
branch_labels = None
depends_on = None

SCHEMA = "notify"


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    uuid = postgresql.UUID(as_uuid=True)
    add = op.add_column
    add(
        "notifications",
        sa.Column("language", sa.String(8), nullable=False, server_default="zh-CN"),
        schema=SCHEMA,
    )
    add("notifications", sa.Column("subject", sa.Text()), schema=SCHEMA)
    add("notifications", sa.Column("address", sa.Text()), schema=SCHEMA)
    add(
        "notifications",
        sa.Column("quiet_hours", sa.Boolean(), nullable=False, server_default="false"),
        schema=SCHEMA,
    )
    add(
        "notifications",
        sa.Column("attempts_since_resend", sa.Integer(), nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    add(
        "notifications",
        sa.Column("next_attempt_at", tz, nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )
    op.drop_constraint("uq_notifications_once", "notifications", schema=SCHEMA)
    op.create_unique_constraint(
        "uq_notifications_once",
        "notifications",
        ["event_id", "recipient", "medium", "kind"],
        schema=SCHEMA,
    )
    op.drop_index("ix_notifications_pending", table_name="notifications", schema=SCHEMA)
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('pending', 'deferred')"),
    )
    op.create_table(
        "notification_attempts",
        sa.Column("notification_id", uuid, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", tz, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.String(500)),
        sa.PrimaryKeyConstraint("notification_id", "attempt", name="pk_notification_attempts"),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            [f"{SCHEMA}.notifications.notification_id"],
            name="fk_notification_attempts_notification_id_notifications",
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "appeals",
        sa.Column("appeal_id", uuid, nullable=False),
        sa.Column("tracking_code", sa.String(64)),
        sa.Column("channel", sa.String(32)),
        sa.Column("external_id", sa.String(200)),
        sa.Column("anonymous", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("appellant_name", sa.String(200)),
        sa.Column("appellant_phone", sa.String(32)),
        sa.Column("urgency", sa.String(16), nullable=False, server_default="normal"),
        sa.Column("enterprise_credit_code", sa.String(18)),
        sa.Column("officer_id", sa.String(64)),
        sa.Column(
            "assistant_officer_ids",
            postgresql.JSONB(),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
        sa.Column("assigned_at", tz),
        sa.Column("updated_at", tz, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("appeal_id", name="pk_appeals"),
        schema=SCHEMA,
    )
    op.create_table(
        "officers",
        sa.Column("officer_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(200), nullable=False),
        sa.Column("supervisor_id", sa.String(64)),
        sa.Column("paired_officer_id", sa.String(64)),
        sa.Column("phone", sa.String(32)),
        sa.Column("email", sa.String(320)),
        sa.Column("updated_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("officer_id", name="pk_officers"),
        schema=SCHEMA,
    )
    op.create_index("ix_officers_unit_role", "officers", ["unit", "role"], schema=SCHEMA)
    op.create_table(
        "waiting_events",
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("appeal_id", uuid, nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("parked_at", tz, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("seq", name="pk_waiting_events"),
        schema=SCHEMA,
    )
    op.create_index("ix_waiting_events_appeal_id", "waiting_events", ["appeal_id"], schema=SCHEMA)
    op.create_table(
        "enterprises",
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("cso_officer_id", sa.String(64)),
        sa.Column("updated_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("credit_code", name="pk_enterprises"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in ("enterprises", "waiting_events", "officers", "appeals", "notification_attempts"):
        op.drop_table(table, schema=SCHEMA)
    op.drop_index("ix_notifications_due", table_name="notifications", schema=SCHEMA)
    op.drop_constraint("uq_notifications_once", "notifications", schema=SCHEMA)
    op.create_unique_constraint(
        "uq_notifications_once",
        "notifications",
        ["event_id", "recipient", "medium"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_notifications_pending",
        "notifications",
        ["created_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    for column in (
        "next_attempt_at",
        "attempts_since_resend",
        "quiet_hours",
        "address",
        "subject",
        "language",
    ):
        op.drop_column("notifications", column, schema=SCHEMA)
