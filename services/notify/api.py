"""Notify's HTTP API: the delivery log, for ops and supervisors (a sign-in token with one of
those roles; 401 without a valid token, 403 with neither role)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from services.notify import store
from shared.http import Cursor, Limit, Page, SessionDep
from shared.identity import Role, require_roles
from shared.pagination import paginate
from shared.vocabulary import Medium, NotificationStatus

router = APIRouter(
    prefix="/v1",
    tags=["notifications"],
    dependencies=[Depends(require_roles(Role.OPS, Role.SUPERVISOR))],
)


class NotificationOut(BaseModel):
    notification_id: UUID
    appeal_id: UUID | None
    event_id: UUID
    recipient: str
    medium: Medium
    kind: str
    status: NotificationStatus
    body: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@router.get("/notifications")
async def list_notifications(
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    appeal_id: UUID | None = None,
    recipient: str | None = None,
    status: NotificationStatus | None = None,
) -> Page[NotificationOut]:
    """The delivery log, oldest first. Ops and supervisors only."""
    t = store.notifications
    query = select(t)
    if appeal_id is not None:
        query = query.where(t.c.appeal_id == appeal_id)
    if recipient is not None:
        query = query.where(t.c.recipient == recipient)
    if status is not None:
        query = query.where(t.c.status == status)
    return await paginate(
        session,
        query,
        [t.c.created_at, t.c.notification_id],
        limit=limit,
        cursor=cursor,
        item=lambda r: NotificationOut.model_validate(r, from_attributes=True),
    )
