"""Status changes heard before their appeal's receipt (notify.waiting_events): who they concern
is known only from the receipt, so they wait here and are decided when it comes."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.tables import waiting_events


async def park(session: AsyncSession, appeal_id: UUID, envelope_json: str) -> None:
    await session.execute(
        insert(waiting_events).values(appeal_id=appeal_id, envelope=envelope_json)
    )


async def unpark(session: AsyncSession, appeal_id: UUID) -> list[str]:
    """The envelopes that waited for this appeal's receipt, in the order they came; removed."""
    rows = (
        await session.execute(
            delete(waiting_events)
            .where(waiting_events.c.appeal_id == appeal_id)
            .returning(waiting_events.c.seq, waiting_events.c.envelope)
        )
    ).all()
    return [row.envelope for row in sorted(rows, key=lambda row: row.seq)]
