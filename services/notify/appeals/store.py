"""Notify's copy of each appeal (notify.appeals): the appeal events arrive in any order, and each
fills what it knows and leaves the rest."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.appeals.facts import AppealFacts
from services.notify.tables import appeals


async def facts(session: AsyncSession, appeal_id: UUID) -> AppealFacts | None:
    """What notify knows of the appeal; None when it never heard of it."""
    row = (await session.execute(select(appeals).where(appeals.c.appeal_id == appeal_id))).first()
    if row is None:
        return None
    return AppealFacts(
        appeal_id=row.appeal_id,
        tracking_code=row.tracking_code,
        channel=row.channel,
        external_id=row.external_id,
        anonymous=row.anonymous,
        appellant_name=row.appellant_name,
        appellant_phone=row.appellant_phone,
        urgency=row.urgency,
        officer_id=row.officer_id,
        assistant_officer_ids=tuple(row.assistant_officer_ids or ()),
        enterprise_credit_code=row.enterprise_credit_code,
    )


async def save_appeal(session: AsyncSession, appeal_id: UUID, **known: Any) -> None:
    """Fills what this event knows; leaves what it does not (None) as it was."""
    known = {k: v for k, v in known.items() if v is not None}
    statement = insert(appeals).values(appeal_id=appeal_id, **known)
    set_: dict[str, Any] = {k: statement.excluded[k] for k in known}
    set_["updated_at"] = func.now()
    await session.execute(statement.on_conflict_do_update(index_elements=["appeal_id"], set_=set_))


async def assign_appeal(
    session: AsyncSession,
    appeal_id: UUID,
    officer_id: str,
    assigned_at: datetime,
    tracking_code: str | None,
) -> None:
    """The officer now responsible; an older assignment heard late does not undo a newer one."""
    statement = insert(appeals).values(
        appeal_id=appeal_id,
        officer_id=officer_id,
        assigned_at=assigned_at,
        tracking_code=tracking_code,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["appeal_id"],
            set_={
                "officer_id": statement.excluded.officer_id,
                "assigned_at": statement.excluded.assigned_at,
                "tracking_code": func.coalesce(
                    appeals.c.tracking_code, statement.excluded.tracking_code
                ),
                "updated_at": func.now(),
            },
            where=or_(
                appeals.c.assigned_at.is_(None),
                appeals.c.assigned_at <= statement.excluded.assigned_at,
            ),
        )
    )
