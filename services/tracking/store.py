"""Tracking's tables (schema `tracking`): appeal records and their append-only history."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, String, Table, func, select
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking.projection import AppealRecord
from shared.db import service_metadata
from shared.inbox import inbox_table
from shared.outbox import outbox_table
from shared.vocabulary import AppealStatus

SCHEMA = "tracking"
metadata = service_metadata(SCHEMA)

appeals = Table(
    "appeals",
    metadata,
    Column("appeal_id", PgUUID(as_uuid=True), primary_key=True),
    Column("status", String(32)),
    Column("tracking_code", String(32), index=True),
    Column("channel", String(32)),
    Column("category", String(40)),
    Column("urgency", String(16)),
    Column("summary", String(200)),
    Column("community", String(100)),
    Column("enterprise_credit_code", String(18)),
    Column("received_at", DateTime(timezone=True)),
    Column("officer_id", String(64)),
    Column("assigned_at", DateTime(timezone=True)),
    Column("assignment_reason", String(500)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_appeals_officer_queue", "officer_id", "assigned_at", "appeal_id"),
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

RECORD_COLUMNS = [f.name for f in fields(AppealRecord) if f.name != "appeal_id"]


async def lock_record(session: AsyncSession, appeal_id: UUID) -> AppealRecord:
    """The record, locked for this transaction; created empty if tracking has not seen it.
    Insert-then-lock makes two events of one appeal, handled at once, take turns."""
    await session.execute(
        insert(appeals)
        .values(appeal_id=appeal_id)
        .on_conflict_do_nothing(index_elements=["appeal_id"])
    )
    row = (
        await session.execute(
            select(appeals).where(appeals.c.appeal_id == appeal_id).with_for_update()
        )
    ).one()
    values: dict[str, Any] = {name: getattr(row, name) for name in RECORD_COLUMNS}
    values["status"] = None if row.status is None else AppealStatus(row.status)
    return AppealRecord(appeal_id=str(appeal_id), **values)


async def save_record(session: AsyncSession, record: AppealRecord) -> None:
    values = asdict(record)
    values.pop("appeal_id")
    await session.execute(
        appeals.update()
        .where(appeals.c.appeal_id == UUID(record.appeal_id))
        .values(**values, updated_at=func.now())
    )


async def append_history(
    session: AsyncSession,
    *,
    appeal_id: UUID,
    event_id: UUID,
    kind: str,
    status: AppealStatus,
    occurred_at: Any,
    actor: str,
    note: str | None,
) -> None:
    await session.execute(
        insert(history)
        .values(
            appeal_id=appeal_id,
            event_id=event_id,
            kind=kind,
            status=status,
            occurred_at=occurred_at,
            actor=actor,
            note=note,
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )


async def history_of(session: AsyncSession, appeal_id: UUID) -> list[Any]:
    # Ordered by when things happened, not when tracking heard of them: the same for any
    # arrival order.
    return list(
        (
            await session.execute(
                select(history)
                .where(history.c.appeal_id == appeal_id)
                .order_by(history.c.occurred_at, history.c.id)
            )
        ).all()
    )
