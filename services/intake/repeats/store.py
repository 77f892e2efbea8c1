"""The appellant's recent open appeals, the candidates a new submission may repeat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.tables import AnyRow, appeals


async def open_appeals_of(
    session: AsyncSession, *, phone: str | None, credit_code: str | None, since: datetime
) -> list[AnyRow]:
    """The appellant's appeals received since `since` and not known to be closed."""
    who = []
    if phone:
        who.append(appeals.c.phone == phone)
    if credit_code:
        who.append(appeals.c.enterprise_credit_code == credit_code)
    if not who:
        return []
    return list(
        (
            await session.execute(
                select(
                    appeals.c.appeal_id,
                    appeals.c.tracking_code,
                    appeals.c.phone,
                    appeals.c.enterprise_credit_code,
                    appeals.c.submission["content"].astext.label("content"),
                    appeals.c.received_at,
                ).where(or_(*who), appeals.c.received_at >= since, appeals.c.closed_at.is_(None))
            )
        ).all()
    )
