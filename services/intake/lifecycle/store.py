"""What intake keeps of tracking's lifecycle: when each appeal was closed."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.tables import appeals


async def mark_closed(session: AsyncSession, appeal_id: UUID, closed_at: datetime) -> None:
    await session.execute(
        update(appeals)
        .where(appeals.c.appeal_id == appeal_id, appeals.c.closed_at.is_(None))
        .values(closed_at=closed_at)
    )
