"""What intake keeps of tracking's lifecycle: each appeal's latest status, and when it was
closed."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.tables import appeals
from shared.vocabulary import AppealStatus


async def record_status(
    session: AsyncSession, appeal_id: UUID, status: AppealStatus, changed_at: datetime
) -> None:
    """Keeps `status` unless the appeal already has a later one: a change heard late never
    rolls it back. Changes made at the same instant (one transaction of tracking's) apply in
    the order they are heard, which is the order they were made."""
    await session.execute(
        update(appeals)
        .where(
            appeals.c.appeal_id == appeal_id,
            or_(
                appeals.c.status_changed_at.is_(None),
                appeals.c.status_changed_at <= changed_at,
            ),
        )
        .values(status=status.value, status_changed_at=changed_at)
    )


async def mark_closed(session: AsyncSession, appeal_id: UUID, closed_at: datetime) -> None:
    await session.execute(
        update(appeals)
        .where(appeals.c.appeal_id == appeal_id, appeals.c.closed_at.is_(None))
        .values(closed_at=closed_at)
    )
