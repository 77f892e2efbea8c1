"""Finding the appeal a follow-up result names, with its status as intake last heard it."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.tables import AnyRow, appeals


async def find_appeal(
    session: AsyncSession, *, appeal_id: UUID | None = None, tracking_code: str | None = None
) -> AnyRow | None:
    query = select(appeals.c.appeal_id, appeals.c.tracking_code, appeals.c.status)
    if appeal_id is not None:
        query = query.where(appeals.c.appeal_id == appeal_id)
    else:
        query = query.where(appeals.c.tracking_code == tracking_code)
    return (await session.execute(query)).first()
