"""Who read an appellant's personal data (name, phone), when, of which appeal, through which
route: one row per read, written in the transaction of the read, so a read that answered was
logged. Ops read the log. Only the names of the fields are kept and logged, never their values."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking import store
from shared.http import Cursor, Limit, Page, SessionDep
from shared.identity import Principal, Role, require_roles
from shared.pagination import paginate

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["access log"])

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
        insert(store.access_log).values(
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


class AccessOut(BaseModel):
    id: int
    at: datetime
    subject: str
    roles: list[str]
    appeal_id: UUID
    fields: list[str]
    route: str


@router.get("/access-log")
async def list_access_log(
    session: SessionDep,
    _caller: Annotated[Principal, Depends(require_roles(Role.OPS))],
    appeal_id: UUID | None = None,
    subject: Annotated[str | None, Query(max_length=SUBJECT_CHARS)] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[AccessOut]:
    """Reads of appellants' personal data, oldest first, of one appeal and/or by one reader
    (the token's `sub`). Ops only."""
    t = store.access_log
    query = select(t)
    if appeal_id is not None:
        query = query.where(t.c.appeal_id == appeal_id)
    if subject is not None:
        query = query.where(t.c.subject == subject)
    return await paginate(
        session,
        query,
        [t.c.id],
        limit=limit,
        cursor=cursor,
        item=lambda r: AccessOut.model_validate(r, from_attributes=True),
    )
