"""The console's tables (schema `console`): its sign-in sessions. The console never reads
another service's tables: what it shows comes from their HTTP APIs."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, String, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB

from shared.db import service_metadata
from shared.inbox import inbox_table
from shared.outbox import outbox_table

SCHEMA = "console"
metadata = service_metadata(SCHEMA)

sessions = Table(
    "sessions",
    metadata,
    # The SHA-256 of the cookie's random value: a copy of this table signs no one in.
    Column("session_hash", String(64), primary_key=True),
    Column("subject", String(100), nullable=False),
    Column("name", Text, nullable=False),
    Column("roles", JSONB, nullable=False),
    Column("unit", String(100)),
    # The bearer token the console sends to the other services for this person.
    Column("token", Text, nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
