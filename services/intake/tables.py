"""Intake's tables (schema `intake`), in one module so Alembic's migrations and the models are
compared as one schema; each feature's `store.py` holds the queries on them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, DateTime, Float, Index, Row, String, Table, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import service_metadata
from shared.inbox import inbox_table
from shared.outbox import outbox_table

SCHEMA = "intake"
metadata = service_metadata(SCHEMA)

# A row read from any of these tables, whatever its columns.
AnyRow = Row[*tuple[Any, ...]]

appeals = Table(
    "appeals",
    metadata,
    Column("appeal_id", PgUUID(as_uuid=True), primary_key=True),
    Column("tracking_code", String(32), nullable=False, unique=True),
    Column("channel", String(32), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("submission", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("channel", "external_id", name="uq_appeals_channel_external_id"),
    # Who raised it (for finding repeats) and where tracking has it (from appeals.lifecycle;
    # intake never reads tracking's tables): closed ones take no repeats, and a follow-up
    # result is taken only while the appeal is resolved. `status_changed_at` is the
    # `changed_at` of the status kept, so an older change heard late never rolls it back.
    Column("phone", String(32), nullable=True, index=True),
    Column("enterprise_credit_code", String(18), nullable=True, index=True),
    Column("classification", JSONB, nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("status", String(32), nullable=True),
    Column("status_changed_at", DateTime(timezone=True), nullable=True),
)
# Every submission intake answered, by (channel, external_id): a retry gets the same answer, a
# receipt can be looked up, and each channel that raised an appeal is known.
submissions = Table(
    "submissions",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("external_id", String(128), primary_key=True),
    Column("outcome", String(16), nullable=False),  # received | merged | visit_logged
    Column("appeal_id", PgUUID(as_uuid=True), nullable=True, index=True),
    Column("tracking_code", String(32), nullable=True),
    Column("score", Float, nullable=True),
    Column("reason", Text, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

# Who may push appeals in: one row per adapter key; the secret is Fernet-encrypted
# (channel_keys/keys.py).
channel_keys = Table(
    "channel_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("scopes", ARRAY(String(32)), nullable=False),
    Column("secret_encrypted", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)
# Signatures already accepted, shared by every intake replica so a replay is caught whichever
# replica it reaches; a row can go once its signature would be refused as stale anyway.
seen_signatures = Table(
    "seen_signatures",
    metadata,
    Column("signature", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_seen_signatures_expires_at", "expires_at"),
)


async def insert_if_new(session: AsyncSession, table: Table, **values: Any) -> bool:
    """Inserts the row unless its primary key is taken; whether it was inserted. Of two
    transactions inserting the same key at once, the second waits for the first, then finds it
    taken (or inserts, if the first rolled back): the primary key decides, across replicas."""
    key = [column.name for column in table.primary_key.columns]
    result = await session.execute(
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=key)
        .returning(*table.primary_key.columns)
    )
    return result.first() is not None
