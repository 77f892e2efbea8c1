"""Tracking's HTTP API: an appeal with its history, and an officer's queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.tracking import store
from shared.http import Cursor, Limit, Page, SessionDep
from shared.pagination import paginate
from shared.vocabulary import AppealStatus

router = APIRouter(prefix="/v1", tags=["appeals"])

# Until the lifecycle issue closes appeals, everything assigned to an officer is open.
OPEN_STATUSES = [s.value for s in AppealStatus if s != AppealStatus.CLOSED]

# History kinds that record something happening to an appeal without moving its status.
STATUS_NEUTRAL_KINDS = frozenset({"merged"})


class HistoryEntry(BaseModel):
    kind: str
    from_status: AppealStatus | None
    to_status: AppealStatus
    at: datetime
    actor: str
    note: str | None


class SubmissionOut(BaseModel):
    """One time the appeal was raised: `original` (the first) or `merged` (a repeat, with how
    alike it was and why it was judged a repeat)."""

    kind: str
    channel: str
    external_id: str
    at: datetime
    score: float | None
    reason: str | None


def _type_field() -> Any:
    # `type` on the wire; `appeal_type` in the table and the record (not to shadow the builtin).
    return Field(default=None, validation_alias="appeal_type", serialization_alias="type")


class AppealOut(BaseModel):
    appeal_id: UUID
    tracking_code: str | None
    status: AppealStatus | None
    officer_id: str | None
    channel: str | None
    type: str | None = _type_field()
    category: str | None
    urgency: str | None
    classified_by: dict[str, str]
    times_raised: int
    submissions: list[SubmissionOut]
    summary: str | None
    community: str | None
    received_at: datetime | None
    assigned_at: datetime | None
    assignment_reason: str | None
    history: list[HistoryEntry]


class QueueItem(BaseModel):
    appeal_id: UUID
    tracking_code: str | None
    status: AppealStatus | None
    type: str | None = _type_field()
    category: str | None
    urgency: str | None
    times_raised: int
    summary: str | None
    received_at: datetime | None
    assigned_at: datetime | None


@router.get("/appeals/{appeal_id}")
async def get_appeal(appeal_id: UUID, session: SessionDep) -> AppealOut:
    """404 until tracking has heard of the appeal."""
    row = (
        await session.execute(select(store.appeals).where(store.appeals.c.appeal_id == appeal_id))
    ).first()
    if row is None:
        raise HTTPException(404, f"tracking has not heard of appeal {appeal_id} yet")
    entries: list[HistoryEntry] = []
    previous: AppealStatus | None = None
    for h in await store.history_of(session, appeal_id):
        to = AppealStatus(h.status)
        if h.kind in STATUS_NEUTRAL_KINDS and previous is not None:
            # Where the appeal stood then, by the order things happened (the stored status is
            # where it stood when tracking heard of it, which another topic may have moved).
            to = previous
        entries.append(
            HistoryEntry(
                kind=h.kind,
                from_status=previous,
                to_status=to,
                at=h.occurred_at,
                actor=h.actor,
                note=h.note,
            )
        )
        previous = to
    return AppealOut.model_validate({**row._mapping, "history": entries})


@router.get("/officers/{officer_id}/queue")
async def officer_queue(
    officer_id: str,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: AppealStatus | None = None,
) -> Page[QueueItem]:
    """The officer's open appeals, oldest assignment first."""
    t = store.appeals
    query = select(t).where(t.c.officer_id == officer_id)
    query = query.where(t.c.status == status if status else t.c.status.in_(OPEN_STATUSES))
    return await paginate(
        session,
        query,
        [t.c.assigned_at, t.c.appeal_id],
        limit=limit,
        cursor=cursor,
        item=lambda r: QueueItem.model_validate(r, from_attributes=True),
    )
