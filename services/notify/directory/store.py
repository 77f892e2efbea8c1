"""Notify's copy of the directory (notify.officers, notify.enterprises): the contacts it reaches
officers by, their supervisors and pairs, and the enterprises' CSOs, as `directory.changes`
last told them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.tables import enterprises, officers


async def _save_unless_older(
    session: AsyncSession, table: Table, key: str, changed_at: datetime, values: dict[str, Any]
) -> None:
    """Upserts the row as of `changed_at`; a change older than the one kept, heard late (the
    directory's events for one key stay in order, but a replay may bring an old one), is
    ignored."""
    values = {**values, "updated_at": changed_at}
    statement = insert(table).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[key],
            set_={column: statement.excluded[column] for column in values if column != key},
            where=table.c.updated_at <= statement.excluded.updated_at,
        )
    )


async def save_officer(session: AsyncSession, changed_at: datetime, **values: Any) -> None:
    await _save_unless_older(session, officers, "officer_id", changed_at, values)


async def save_enterprise(
    session: AsyncSession, credit_code: str, cso_officer_id: str | None, changed_at: datetime
) -> None:
    await _save_unless_older(
        session,
        enterprises,
        "credit_code",
        changed_at,
        {"credit_code": credit_code, "cso_officer_id": cso_officer_id},
    )


async def officer(session: AsyncSession, officer_id: str | None) -> Any:
    if officer_id is None:
        return None
    return (
        await session.execute(select(officers).where(officers.c.officer_id == officer_id))
    ).first()


async def unit_supervisors(session: AsyncSession, unit: str) -> list[str]:
    return list(
        (
            await session.scalars(
                select(officers.c.officer_id)
                .where(officers.c.unit == unit, officers.c.role == "supervisor")
                .order_by(officers.c.officer_id)
            )
        ).all()
    )


async def cso_of(session: AsyncSession, credit_code: str) -> str | None:
    return await session.scalar(
        select(enterprises.c.cso_officer_id).where(enterprises.c.credit_code == credit_code)
    )
