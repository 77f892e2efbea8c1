"""Tracking's own copies of the directory's officers (who may read whose queue, whom to escalate
to) and enterprises with their chief service officers (the five ones), kept from
`directory.changes`: tracking never reads dispatch's tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking.tables import enterprises, officers
from shared.db import upsert_if_newer

# The columns' widths: a longer value from the directory is cut, never a failed message.
NAME_CHARS = 200
COMMUNITY_CHARS = 100


async def save_officer(
    session: AsyncSession,
    *,
    officer_id: str,
    name: str,
    role: str,
    unit: str,
    supervisor_id: str | None,
    changed_at: datetime,
) -> None:
    """The officer as of `changed_at`; an older change heard late is ignored."""
    values = {
        "name": name,
        "role": role,
        "unit": unit,
        "supervisor_id": supervisor_id,
        "updated_at": changed_at,
    }
    await upsert_if_newer(session, officers, {"officer_id": officer_id}, values)


async def save_enterprise(
    session: AsyncSession,
    *,
    credit_code: str,
    name: str,
    community: str | None,
    cso_officer_id: str | None,
    changed_at: datetime,
) -> None:
    """The enterprise as of `changed_at`; an older change heard late is ignored."""
    values = {
        "name": name[:NAME_CHARS],
        "community": None if community is None else community[:COMMUNITY_CHARS],
        "cso_officer_id": cso_officer_id,
        "updated_at": changed_at,
    }
    await upsert_if_newer(session, enterprises, {"credit_code": credit_code}, values)


async def unit_of(session: AsyncSession, officer_id: str | None) -> str | None:
    """The officer's unit as tracking last heard it from the directory; None if unknown."""
    if officer_id is None:
        return None
    return await session.scalar(select(officers.c.unit).where(officers.c.officer_id == officer_id))


async def officer_row(session: AsyncSession, officer_id: str | None) -> Any:
    if officer_id is None:
        return None
    return (
        await session.execute(select(officers).where(officers.c.officer_id == officer_id))
    ).first()
