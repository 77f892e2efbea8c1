"""Notify's tables (schema `notify`), in one place for its migrations: the notifications with
their attempts (deliveries/), what the recording provider recorded (providers/recording.py),
the status changes waiting for their appeal's receipt (decisions/), and notify's own copies of
what it needs to reach people: the appeals' appellants and channels (appeals/), the officers'
contacts and the enterprises' CSOs (directory/). Notify never reads another service's tables."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID

from shared.db import service_metadata
from shared.inbox import inbox_table
from shared.outbox import outbox_table

SCHEMA = "notify"
metadata = service_metadata(SCHEMA)

notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", PgUUID(as_uuid=True), primary_key=True),
    Column("event_id", PgUUID(as_uuid=True), nullable=False),
    Column("appeal_id", PgUUID(as_uuid=True), index=True),
    Column("recipient", String(100), nullable=False),
    Column("medium", String(16), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("language", String(8), nullable=False, server_default="zh-CN"),
    Column("subject", Text),
    Column("body", Text, nullable=False),
    # The phone or e-mail address it goes to, as known when it was decided; never in an answer
    # of the API or a log line (the recipient label says who).
    Column("address", Text),
    # Whether it waits out the quiet hours (a non-urgent SMS to the appellant).
    Column("quiet_hours", Boolean, nullable=False, server_default="false"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # Attempts since the last resend: the retry budget counts these.
    Column("attempts_since_resend", Integer, nullable=False, server_default="0"),
    Column("last_error", String(500)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True)),
    # Which claim is sending it (set when a worker leases it, cleared when an outcome is
    # recorded): an outcome is recorded only by the claim that still holds the row.
    Column("lease_id", PgUUID(as_uuid=True)),
    # The trace context (W3C traceparent) the notification was decided in, with tracing on:
    # its sends are spans of the same trace.
    Column("traceparent", Text),
    # Once per (event, recipient, medium, kind), however often the event is delivered (one
    # event can mean two messages to one person: resolved, and how satisfied are you?).
    UniqueConstraint("event_id", "recipient", "medium", "kind", name="uq_notifications_once"),
    Index(
        "ix_notifications_due",
        "next_attempt_at",
        postgresql_where=text("status IN ('pending', 'deferred')"),
    ),
)

notification_attempts = Table(
    "notification_attempts",
    metadata,
    Column(
        "notification_id",
        PgUUID(as_uuid=True),
        ForeignKey("notifications.notification_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("attempt", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(16), nullable=False),  # sent | retry | failed
    Column("error", String(500)),
)

recorded_messages = Table(
    "recorded_messages",
    metadata,
    Column("notification_id", PgUUID(as_uuid=True), primary_key=True),
    Column("recipient", String(100), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# What notify knows of each appeal, from the appeal events (they arrive in any order: each
# event fills what it knows and leaves the rest).
appeals = Table(
    "appeals",
    metadata,
    Column("appeal_id", PgUUID(as_uuid=True), primary_key=True),
    Column("tracking_code", String(64)),
    Column("channel", String(32)),
    Column("external_id", String(200)),
    Column("anonymous", Boolean, nullable=False, server_default="false"),
    Column("appellant_name", String(200)),
    Column("appellant_phone", String(32)),
    Column("urgency", String(16), nullable=False, server_default="normal"),
    Column("enterprise_credit_code", String(18)),
    Column("officer_id", String(64)),
    Column("assistant_officer_ids", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    # The time of the assignment event that set officer_id: a late, older one does not win.
    Column("assigned_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

officers = Table(
    "officers",
    metadata,
    Column("officer_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(64), nullable=False),
    Column("unit", String(200), nullable=False),
    Column("supervisor_id", String(64)),
    Column("paired_officer_id", String(64)),
    Column("phone", String(32)),
    Column("email", String(320)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_officers_unit_role", "unit", "role"),
)

enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("cso_officer_id", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Status changes heard before the appeal's receipt (another topic, consumed apart): who they
# concern (the appellant, the submitting channel) is only known from the receipt, so they wait
# here and are decided when it comes.
waiting_events = Table(
    "waiting_events",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("appeal_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("envelope", Text, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
