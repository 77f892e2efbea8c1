"""Who read an appellant's personal data (name, phone), when, of which appeal, through which
route (written by access_log/store.py with each read). Ops read the log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

from services.tracking.access_log.store import SUBJECT_CHARS
from services.tracking.tables import access_log
from shared.http import Cursor, Limit, Page, SessionDep
from shared.identity import Principal, Role, require_roles
from shared.pagination import paginate

router = APIRouter(prefix="/v1", tags=["access log"])


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
    t = access_log
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
