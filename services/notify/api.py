"""Notify's HTTP API: the delivery log."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import and_, or_, select

from services.notify import store
from shared.http import Cursor, Limit, Page, SessionDep, decode_cursor, encode_cursor
from shared.vocabulary import Medium, NotificationStatus

router = APIRouter(prefix="/v1", tags=["notifications"])


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
    """The delivery log, oldest first."""
    t = store.notifications
    query = select(t).order_by(t.c.created_at, t.c.notification_id).limit(limit + 1)
    if appeal_id is not None:
        query = query.where(t.c.appeal_id == appeal_id)
    if recipient is not None:
        query = query.where(t.c.recipient == recipient)
    if status is not None:
        query = query.where(t.c.status == status)
    if cursor is not None:
        at, last_id = decode_cursor(cursor)
        at_time = datetime.fromisoformat(at)
        query = query.where(
            or_(
                t.c.created_at > at_time,
                and_(t.c.created_at == at_time, t.c.notification_id > last_id),
            )
        )
    rows = (await session.execute(query)).all()
    items = [NotificationOut.model_validate(r, from_attributes=True) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor([last.created_at.isoformat(), str(last.notification_id)])
    return Page(items=items, next_cursor=next_cursor)
