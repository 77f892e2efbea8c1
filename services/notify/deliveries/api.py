"""Notify's HTTP API: the delivery log, for ops and supervisors (a sign-in token with one of
those roles; 401 without a valid token, 403 with neither role), and the resend of a failed
notification (ops)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel

from services.notify.deliveries import service, store
from shared.clock import utcnow
from shared.http import Cursor, Limit, Page, SnapshotSessionDep, UnitsDep, refusal
from shared.identity import Principal, Role, require_roles
from shared.pagination import paginate
from shared.vocabulary import Medium, NotificationStatus

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["notifications"])


class AttemptOut(BaseModel):
    attempt: int
    at: datetime
    outcome: str  # sent | retry | failed
    error: str | None


class NotificationOut(BaseModel):
    """One message. The address it went to is not shown: `recipient` says who."""

    notification_id: UUID
    appeal_id: UUID | None
    event_id: UUID
    recipient: str
    medium: Medium
    kind: str
    status: NotificationStatus
    language: str
    subject: str | None
    body: str
    attempts: int
    attempt_log: list[AttemptOut]
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None


def _out(row: Any, attempts: list[Any]) -> NotificationOut:
    waiting = row.status in store.WAITING
    return NotificationOut.model_validate(
        {
            **row._mapping,
            "attempt_log": [AttemptOut.model_validate(a, from_attributes=True) for a in attempts],
            "next_attempt_at": row.next_attempt_at if waiting else None,
        }
    )


@router.get(
    "/notifications",
    dependencies=[Depends(require_roles(Role.OPS, Role.SUPERVISOR))],
)
async def list_notifications(
    session: SnapshotSessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    appeal_id: UUID | None = None,
    recipient: str | None = None,
    status: NotificationStatus | None = None,
) -> Page[NotificationOut]:
    """The delivery log, oldest first, each message with its attempts. Ops and supervisors."""
    page = await paginate(
        session,
        store.log(appeal_id=appeal_id, recipient=recipient, status=status),
        store.LOG_ORDER,
        limit=limit,
        cursor=cursor,
        item=lambda r: r,
    )
    attempts = await store.attempts_of(session, [r.notification_id for r in page.items])
    return Page(
        items=[_out(r, attempts[r.notification_id]) for r in page.items],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/notifications/{notification_id}/resend",
    status_code=202,
    responses={
        404: refusal("No such notification"),
        409: refusal("Only a failed notification can be resent"),
    },
)
async def resend(
    notification_id: UUID,
    request: Request,
    units: UnitsDep,
    caller: Annotated[Principal, Depends(require_roles(Role.OPS))],
) -> NotificationOut:
    """Puts a failed notification back in the queue with a fresh retry budget (ops only): 404
    for an unknown id, 409 unless it failed. It keeps its id, so a receiver that did get an
    earlier attempt can drop the repeat."""
    try:
        row, attempts = await service.resend(
            units, notification_id, utcnow(), request.app.state.delivery.wake
        )
    except service.UnknownNotification:
        raise HTTPException(404, "no such notification") from None
    except service.NotResendable as refused:
        raise HTTPException(409, str(refused)) from None
    log.info(
        "notification resent",
        extra={"notification_id": str(notification_id), "by": caller.sub},
    )
    return _out(row, attempts)
