"""Tracking's tables (schema `tracking`), in one place for its migrations: appeal records, their
append-only history, deadlines and extension requests (all written by the appeal workflow alone,
`appeals/workflow.py`), events waiting for their appeal's receipt, the access log of personal data,
tracking's own copies of the directory's officers and enterprises, the five ones' contacts and
reminders, the CSO reports, the status page's guesses, and the outbox and inbox. Tracking never
reads another service's tables."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Table,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID

from shared.db import service_metadata
from shared.inbox import inbox_table
from shared.outbox import outbox_table

SCHEMA = "tracking"
metadata = service_metadata(SCHEMA)

appeals = Table(
    "appeals",
    metadata,
    Column("appeal_id", PgUUID(as_uuid=True), primary_key=True),
    Column("status", String(32)),
    Column("tracking_code", String(32), index=True),
    Column("channel", String(32)),
    Column("appeal_type", String(16)),
    Column("category", String(40)),
    Column("urgency", String(16)),
    # Server defaults: lock_appeal inserts a bare placeholder row with only the id.
    Column("classified_by", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("times_raised", Integer, nullable=False, server_default=text("0")),
    # A short list per appeal (a handful of repeats), always read whole: JSONB, not a table.
    Column("submissions", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("summary", String(200)),
    Column("community", String(100)),
    Column("enterprise_credit_code", String(18)),
    Column("phone_last4", String(4)),
    Column("received_at", DateTime(timezone=True)),
    Column("officer_id", String(64)),
    Column("assigned_at", DateTime(timezone=True)),
    Column("assignment_reason", String(500)),
    Column("assignment_reason_code", String(40)),
    # Assisting officers' ids (a handful), a JSON array: the GIN index finds an assistant's
    # appeals for their queue (`assistant_officer_ids @> '["cw-1"]'`).
    Column("assistant_officer_ids", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("assistants_changed_at", DateTime(timezone=True)),
    Column("last_return_decision", JSONB),
    # The appellant's name and phone: the officers on the appeal must call back. Every read of
    # them through the API is written to access_log. Empty when anonymous.
    Column("appellant_name", String(100)),
    Column("appellant_phone", String(32)),
    # The lifecycle's state (lifecycle.AppealState), besides `status` and `officer_id`.
    Column("anonymous", Boolean, nullable=False, server_default=text("false")),
    Column("contacted", Boolean, nullable=False, server_default=text("false")),
    Column("resolution", String(2000)),
    Column("reopen_count", Integer, nullable=False, server_default=text("0")),
    Column("escalated", Boolean, nullable=False, server_default=text("false")),
    Column("status_before_return", String(32)),
    Column("follow_up_refs", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("unreachable_count", Integer, nullable=False, server_default=text("0")),
    Column("closed_reason", String(16)),
    # When each step last happened (the rates and the queue read these).
    Column("accepted_at", DateTime(timezone=True)),
    Column("first_contacted_at", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    # The last conclusive follow-up (回访): the appellant answered (not `unreachable`).
    Column("followed_up_at", DateTime(timezone=True)),
    Column("follow_up_solved", Boolean),
    Column("follow_up_satisfaction", String(24)),
    # 不合理诉求: judged unreasonable after review, so left out of the rates.
    Column("unreasonable_at", DateTime(timezone=True)),
    Column("unreasonable_by", String(100)),
    Column("unreasonable_reason", String(1000)),
    # The officer's nearest unmet deadline (acknowledge, first contact or resolve): the queue
    # sorts on it. NULL when the officer has none (resolved, closed).
    Column("due_at", DateTime(timezone=True)),
    Column("due_stage", String(20)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_appeals_officer_queue", "officer_id", "assigned_at", "appeal_id"),
    Index("ix_appeals_assistants", "assistant_officer_ids", postgresql_using="gin"),
    Index("ix_appeals_received_at", "received_at"),
)

# One row per (appeal, stage): when it is due, by which rule, what has fired. The scheduler
# takes rows whose next_fire_at has come (FOR UPDATE SKIP LOCKED: with several replicas each
# row is fired by one), fires what is due and moves next_fire_at on, in one transaction.
deadlines = Table(
    "deadlines",
    metadata,
    Column("appeal_id", PgUUID(as_uuid=True), primary_key=True),
    Column("stage", String(20), primary_key=True),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("start_basis", String(20), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("warn_at", DateTime(timezone=True), nullable=False),
    Column("public_notice_at", DateTime(timezone=True), nullable=False),
    Column("rule_dimension", String(16), nullable=False),
    Column("rule_value", String(40)),
    Column("rule_limit", String(40), nullable=False),
    Column("capped_by", String(20)),
    # For the history: "emergency: 2 hours (stricter than complaint: 15 working days)".
    Column("reason", String(1000), nullable=False),
    Column("extensions", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("met_at", DateTime(timezone=True)),
    # What has fired; each fires once.
    Column("reminders_sent", Integer, nullable=False, server_default=text("0")),
    Column("warned_at", DateTime(timezone=True)),
    Column("urged_at", DateTime(timezone=True)),
    Column("noticed_at", DateTime(timezone=True)),
    # The next instant something fires; NULL when nothing is left (met, or all fired).
    Column("next_fire_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(
        "ix_deadlines_next_fire_at",
        "next_fire_at",
        postgresql_where=text("next_fire_at IS NOT NULL"),
    ),
)

# Extension requests (延期) and their rulings.
extensions = Table(
    "extensions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("appeal_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("stage", String(20), nullable=False),
    Column("working_days", Integer, nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("requested_by", String(100), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # pending, granted, refused
    Column("decided_by", String(100)),
    Column("decided_at", DateTime(timezone=True)),
    Column("note", String(1000)),
    Column("previous_due_at", DateTime(timezone=True)),
    Column("new_due_at", DateTime(timezone=True)),
    # One pending request per appeal.
    Index(
        "uq_extensions_pending",
        "appeal_id",
        unique=True,
        postgresql_where=text("status = 'pending'"),
    ),
)

# Who read an appellant's personal data (name, phone), when, of which appeal.
access_log = Table(
    "access_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("subject", String(100), nullable=False),  # the token's `sub`
    Column("roles", JSONB, nullable=False),
    Column("appeal_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("fields", JSONB, nullable=False),  # ["name", "phone"]
    Column("route", String(200), nullable=False),
)

# The directory's enterprises and their chief service officers (EnterpriseChanged), for the
# monthly "five ones" (五个一).
enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("community", String(100)),
    Column("cso_officer_id", String(64), index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# A CSO's contacts with an enterprise: visits (VisitLogged) and contacts recorded on appeals
# from that enterprise. `ref` makes each counted once.
cso_contacts = Table(
    "cso_contacts",
    metadata,
    Column("ref", String(100), primary_key=True),
    Column("officer_id", String(64), nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("contacted_at", DateTime(timezone=True), nullable=False),
    Column("source", String(16), nullable=False),  # visit, appeal
    Index("ix_cso_contacts_officer_month", "officer_id", "contacted_at"),
)

# Five-ones reminders sent, one per CSO and month.
five_ones_reminders = Table(
    "five_ones_reminders",
    metadata,
    Column("officer_id", String(64), primary_key=True),
    Column("month", String(7), primary_key=True),  # 2026-11
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

# Reports CSOs gave to the zone's party committee (who has reported this cycle), and the four
# proposed each month.
cso_reports = Table(
    "cso_reports",
    metadata,
    Column("officer_id", String(64), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
cso_proposals = Table(
    "cso_proposals",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("officer_ids", JSONB, nullable=False),
    Column("proposed_at", DateTime(timezone=True), nullable=False),
)

# Who each officer is, as the directory last said (OfficerChanged): enough to decide who may
# read what (a supervisor reads the queues and appeals of their unit's officers).
officers = Table(
    "officers",
    metadata,
    Column("officer_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("role", String(40), nullable=False),
    Column("unit", String(100), nullable=False),
    Column("supervisor_id", String(64)),
    # When the directory changed the officer (the event's time), not when tracking heard it.
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

history = Table(
    "history",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("appeal_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("event_id", PgUUID(as_uuid=True), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("status", String(32), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("note", String(1000)),
)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

# Events about an appeal heard before its receipt (they travel on other topics, so they can come
# first): kept here, in arrival order, and applied when the receipt comes, so that any arrival
# order gives the same appeal and the same announcements, in lifecycle order.
waiting_events = Table(
    "waiting_events",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("appeal_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("topic", String(200), nullable=False),
    Column("envelope", JSONB, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Wrong guesses at the public status page (a tracking code with the phone's last four digits),
# counted per code and per client address in fixed windows, shared by every replica.
status_guesses = Table(
    "status_guesses",
    metadata,
    Column("scope", String(16), primary_key=True),  # code, client
    Column("key", String(100), primary_key=True),
    Column("window_start", DateTime(timezone=True), primary_key=True),
    Column("failures", Integer, nullable=False),
    Index("ix_status_guesses_window_start", "window_start"),
)
