"""The console's tables (schema `console`): its sign-in sessions, live notices and saved views.
The console never reads another service's tables: what it shows comes from their HTTP APIs."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
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

# What the services announced that someone's open page shows at once (live/): every replica
# reads new rows for the pages it serves, so a notice reaches a page whichever replica took the
# event, and a page that reconnects (a replica restarted) asks for what came after its last one.
live_notices = Table(
    "live_notices",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("appeal_id", String(36), nullable=False),
    Column("tracking_code", String(40)),
    Column("officer_id", String(100), index=True),
    Column("unit", String(100), index=True),
    Column("detail", Text, nullable=False, server_default=""),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now(), index=True),
)

# A person's named filters on a page (views/): theirs alone, by the subject they sign in as.
saved_views = Table(
    "saved_views",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("subject", String(100), nullable=False),
    Column("page", String(40), nullable=False),
    Column("name", String(60), nullable=False),
    Column("query", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("subject", "page", "name", name="uq_saved_views_subject_page_name"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
