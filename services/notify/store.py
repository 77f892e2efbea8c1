"""Notify's tables (schema `notify`): notifications, and what the recording provider recorded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import service_metadata
from shared.inbox import inbox_table
from shared.outbox import outbox_table
from shared.vocabulary import NotificationStatus

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
    Column("body", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", String(500)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True)),
    # Once per (event, recipient, medium), however often the event is delivered.
    UniqueConstraint("event_id", "recipient", "medium", name="uq_notifications_once"),
    Index("ix_notifications_pending", "created_at", postgresql_where="status = 'pending'"),
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
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


async def add_notification(
    session: AsyncSession,
    *,
    event_id: UUID,
    appeal_id: UUID | None,
    recipient: str,
    medium: str,
    kind: str,
    body: str,
) -> bool:
    result = await session.execute(
        insert(notifications)
        .values(
            notification_id=uuid4(),
            event_id=event_id,
            appeal_id=appeal_id,
            recipient=recipient,
            medium=medium,
            kind=kind,
            status=NotificationStatus.PENDING,
            body=body,
        )
        .on_conflict_do_nothing(constraint="uq_notifications_once")
        .returning(notifications.c.notification_id)
    )
    return result.first() is not None


async def claim_pending(session: AsyncSession, limit: int) -> Sequence[Any]:
    """Pending notifications no other notify replica is working on right now."""
    return (
        await session.execute(
            select(notifications)
            .where(notifications.c.status == NotificationStatus.PENDING)
            .order_by(notifications.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def mark(
    session: AsyncSession,
    notification_id: UUID,
    status: NotificationStatus,
    error: str | None = None,
) -> datetime | None:
    """Returns the recorded `sent_at` (None unless it was sent)."""
    return await session.scalar(
        update(notifications)
        .where(notifications.c.notification_id == notification_id)
        .values(
            status=status,
            attempts=notifications.c.attempts + 1,
            last_error=error,
            sent_at=func.now() if status == NotificationStatus.SENT else None,
        )
        .returning(notifications.c.sent_at)
    )
