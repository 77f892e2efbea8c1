"""Intake's tables (schema `intake`) and the queries on them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Column, DateTime, String, Table, UniqueConstraint, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.submission import AppealAccepted, AppealSubmission
from shared.db import service_metadata
from shared.inbox import inbox_table
from shared.outbox import outbox_table

SCHEMA = "intake"
metadata = service_metadata(SCHEMA)

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
)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


async def insert_appeal(
    session: AsyncSession,
    *,
    appeal_id: UUID,
    tracking_code: str,
    submission: AppealSubmission,
    received_at: datetime,
) -> bool:
    """Stores a new appeal; False if this (channel, external_id) was already submitted."""
    result = await session.execute(
        insert(appeals)
        .values(
            appeal_id=appeal_id,
            tracking_code=tracking_code,
            channel=submission.channel,
            external_id=submission.external_id,
            submission=submission.model_dump(mode="json"),
            received_at=received_at,
        )
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        .returning(appeals.c.appeal_id)
    )
    return result.first() is not None


async def find_submission(
    session: AsyncSession, channel: str, external_id: str
) -> AppealAccepted | None:
    row = (
        await session.execute(
            select(appeals.c.appeal_id, appeals.c.tracking_code).where(
                appeals.c.channel == channel, appeals.c.external_id == external_id
            )
        )
    ).first()
    if row is None:
        return None
    return AppealAccepted(appeal_id=row.appeal_id, tracking_code=row.tracking_code)
