"""Dispatch's tables (schema `dispatch`), the one place its schema is written down (migrations
compare against it): the directory (officers, departments, duty posts, enterprises), the
assignments and their returns, and the outbox and inbox."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID

from shared.db import service_metadata
from shared.inbox import inbox_table
from shared.outbox import outbox_table

SCHEMA = "dispatch"
metadata = service_metadata(SCHEMA)

officers = Table(
    "officers",
    metadata,
    Column("officer_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("email", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("unit", String(100), nullable=False),
    Column("on_duty", Boolean, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("categories", JSONB, nullable=False),
    Column("communities", JSONB, nullable=False),
    Column("supervisor_id", String(64)),
    Column("paired_officer_id", String(64)),
    # Kept in step with `assignments` in the same transaction: routing reads it on every appeal.
    Column("open_assignments", Integer, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("leave", JSONB, nullable=False, server_default="[]"),
    Column("department_id", String(64), index=True),
    Column("chain", String(40), index=True),
    # Returns (退单) this officer asked for that were accepted, and that were rejected.
    Column("returns_accepted", Integer, nullable=False, server_default="0"),
    Column("returns_rejected", Integer, nullable=False, server_default="0"),
)

departments = Table(
    "departments",
    metadata,
    Column("department_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("categories", JSONB, nullable=False),
    Column("supervisor_id", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Who holds each duty post (`dispatcher`, `supervisor`): one row per post.
duty = Table(
    "duty",
    metadata,
    Column("post", String(20), primary_key=True),
    Column("officer_id", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("chain", String(40), nullable=False),
    Column("community", String(100), nullable=False),
    Column("cso_officer_id", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

assignments = Table(
    "assignments",
    metadata,
    Column("appeal_id", PgUUID(as_uuid=True), primary_key=True),
    Column("officer_id", String(64), nullable=False, index=True),
    Column("reason_code", String(64), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("open", Boolean, nullable=False, server_default="true"),
    # What routing looked at (enterprise, category, community…), kept to route it again.
    Column("routing_input", JSONB, nullable=False, server_default="{}"),
    # The rules trace of the last decision: [{"rule", "matched", "why"}, …].
    Column("rules", JSONB, nullable=False, server_default="[]"),
    # Officers who gave it back or were moved off it: routing again never picks them.
    Column("excluded_officer_ids", JSONB, nullable=False, server_default="[]"),
    Column("accepted_returns", Integer, nullable=False, server_default="0"),
    Column("assistant_officer_ids", JSONB, nullable=False, server_default="[]"),
    Column("tracking_code", String(32)),
    Column("updated_at", DateTime(timezone=True)),
)

returns = Table(
    "returns",
    metadata,
    Column("return_id", PgUUID(as_uuid=True), primary_key=True),
    Column("appeal_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("officer_id", String(64), nullable=False),
    Column("reason_code", String(64), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    # pending | accepted | rejected | superseded (assignments.model.ReturnStatus)
    Column("status", String(20), nullable=False),
    Column("decided_by", String(64)),
    Column("decided_at", DateTime(timezone=True)),
    Column("note", String(500), nullable=False, server_default=""),
    Column("automatic", Boolean, nullable=False, server_default="false"),
    # At most one return awaits a ruling per appeal: the holder's.
    Index(
        "uq_returns_one_pending_per_appeal",
        "appeal_id",
        unique=True,
        postgresql_where=text("status = 'pending'"),
    ),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
