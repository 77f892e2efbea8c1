"""The access log's table writes: one row per read of an appellant's personal data, in the
transaction of the read, so a read that answered was logged. Only the names of the fields are
kept and logged, never their values."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking.tables import access_log
from shared.identity import Principal

log = logging.getLogger(__name__)

SUBJECT_CHARS = 100
ROUTE_CHARS = 200


async def record_access(
    session: AsyncSession,
    principal: Principal,
    appeal_id: UUID,
    fields: Sequence[str],
    route: str,
) -> None:
    """Adds the row to the caller's transaction; the caller commits it with its read."""
    roles = sorted(r.value for r in principal.roles)
    await session.execute(
        insert(access_log).values(
            subject=principal.sub[:SUBJECT_CHARS],
            roles=roles,
            appeal_id=appeal_id,
            fields=list(fields),
            route=route[:ROUTE_CHARS],
        )
    )
    # Field names only: the values are what this log exists to protect.
    log.info(
        "personal data read",
        extra={
            "subject": principal.sub,
            "appeal_id": str(appeal_id),
            "fields": list(fields),
            "route": route,
        },
    )
