"""The live notices table: written by the consumers, read by every replica's open pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.console.live.notices import LiveNotice
from services.console.tables import live_notices


async def save(session: AsyncSession, notices: Sequence[LiveNotice]) -> None:
    if notices:
        await session.execute(
            insert(live_notices),
            [{**n.model_dump(), "appeal_id": str(n.appeal_id)} for n in notices],
        )


class Notices:
    """A unit of work's notices, kept to be saved in one statement (`flush`, at its end)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.kept: list[LiveNotice] = []

    def add(self, notices: Sequence[LiveNotice]) -> None:
        self.kept.extend(notices)

    async def flush(self) -> None:
        kept, self.kept = self.kept, []
        await save(self.session, kept)


async def latest_id(session: AsyncSession) -> int:
    return int(
        (await session.execute(select(func.coalesce(func.max(live_notices.c.id), 0)))).scalar_one()
    )


async def after(
    session: AsyncSession, last_id: int, officer_id: str, unit: str | None, limit: int = 50
) -> list[dict[str, Any]]:
    """Notices after `last_id` for this officer, or for their unit when they oversee it."""
    heard = live_notices.c.officer_id == officer_id
    if unit is not None:
        heard = or_(heard, live_notices.c.unit == unit)
    rows = await session.execute(
        select(live_notices)
        .where(live_notices.c.id > last_id, heard)
        .order_by(live_notices.c.id)
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]


async def after_all(session: AsyncSession, last_id: int, limit: int) -> list[dict[str, Any]]:
    """Every notice after `last_id`, oldest first: a replica's feed hands them to its pages."""
    rows = await session.execute(
        select(live_notices)
        .where(live_notices.c.id > last_id)
        .order_by(live_notices.c.id)
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]


async def by_ids(session: AsyncSession, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The notices of these ids that exist (committed since a read skipped them)."""
    rows = await session.execute(
        select(live_notices).where(live_notices.c.id.in_(ids)).order_by(live_notices.c.id)
    )
    return [dict(row._mapping) for row in rows]


async def prune(session: AsyncSession, before: datetime) -> None:
    await session.execute(delete(live_notices).where(live_notices.c.at < before))
