"""Tracking's HTTP API: an appeal with its history, and an officer's queue. Both need a sign-in
token (401 without a valid one); who may read what is decided per request (403 otherwise)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from services.tracking import store
from shared.http import Cursor, Limit, Page, SessionDep
from shared.identity import (
    Principal,
    authenticated,
    can_read_appeal,
    can_read_officer,
    forbidden,
    may_learn_existence,
)
from shared.pagination import paginate
from shared.vocabulary import AppealStatus

router = APIRouter(prefix="/v1", tags=["appeals"])

# Until the lifecycle issue closes appeals, everything assigned to an officer is open.
OPEN_STATUSES = [s.value for s in AppealStatus if s != AppealStatus.CLOSED]

# History kinds that record something happening to an appeal without moving its status.
STATUS_NEUTRAL_KINDS = frozenset({"merged", "assistants_changed", "return_decided"})

Caller = Annotated[Principal, Depends(authenticated())]


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


class ReturnDecisionOut(BaseModel):
    """The last ruling on a return (退单): who asked, accepted or rejected, by whom."""

    officer_id: str
    decision: Literal["accept", "reject"]
    decided_by: str
    automatic: bool
    note: str
    decided_at: datetime


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
    assignment_reason_code: str | None
    assistant_officer_ids: list[str]
    last_return_decision: ReturnDecisionOut | None
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
    # `lead`: the officer responsible; `assistant`: helping (协办) the lead.
    role: Literal["lead", "assistant"]


@router.get("/appeals/{appeal_id}")
async def get_appeal(
    appeal_id: UUID, caller: Caller, session: SessionDep, request: Request
) -> AppealOut:
    """The appeal's record and its history. Readable by ops, the officer it is assigned to, its
    assistants, and supervisors of the assigned officer's unit; anyone else signed in gets 403.

    An appeal tracking has not heard of (yet) is 404 for ops and supervisors, but 403 for anyone
    else: a plain officer cannot tell an unknown appeal from someone else's."""
    row = (
        await session.execute(select(store.appeals).where(store.appeals.c.appeal_id == appeal_id))
    ).first()
    if row is None:
        if may_learn_existence(caller):
            raise HTTPException(404, f"tracking has not heard of appeal {appeal_id} yet")
        raise forbidden(request, "only the officers on an appeal, their supervisors or ops")
    allowed = can_read_appeal(
        caller,
        officer_id=row.officer_id,
        assistant_officer_ids=row.assistant_officer_ids,
        officer_unit=await store.unit_of(session, row.officer_id),
    )
    if not allowed:
        raise forbidden(request, "only the officers on an appeal, their supervisors or ops")
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
    caller: Caller,
    session: SessionDep,
    request: Request,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: AppealStatus | None = None,
) -> Page[QueueItem]:
    """The officer's open appeals, oldest assignment first: those they lead and those they
    assist (`role`). Readable by the officer, a supervisor of their unit (as tracking last heard
    it from the directory) and ops; anyone else signed in gets 403."""
    unit = await store.unit_of(session, officer_id)
    if not can_read_officer(caller, officer_id, unit):
        raise forbidden(request, "only the officer, a supervisor of their unit or ops")
    t = store.appeals
    query = select(t).where(
        or_(t.c.officer_id == officer_id, t.c.assistant_officer_ids.contains([officer_id]))
    )
    query = query.where(t.c.status == status if status else t.c.status.in_(OPEN_STATUSES))

    def item(row: Any) -> QueueItem:
        role = "lead" if row.officer_id == officer_id else "assistant"
        return QueueItem.model_validate({**row._mapping, "role": role})

    return await paginate(
        session,
        query,
        [t.c.assigned_at, t.c.appeal_id],
        limit=limit,
        cursor=cursor,
        item=item,
    )
