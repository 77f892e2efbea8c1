"""Tracking's HTTP API: an appeal with its lifecycle, deadlines, extensions and history, and an
officer's queue. Both need a sign-in token (401 without a valid one); who may read what is decided
per request (403 otherwise). Reading an appeal's appellant is written to the access log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking import store
from services.tracking.access_log import record_access
from services.tracking.deadlines import Stage
from services.tracking.unreasonable import UnreasonableOut, unreasonable_of
from shared.clock import utcnow
from shared.http import Cursor, Limit, Page, SessionDep, SnapshotSessionDep
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

# The order the deadlines are listed in: the order they fall due.
STAGE_ORDER = {stage.value: n for n, stage in enumerate(Stage)}

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


class AppellantOut(BaseModel):
    """Who to call back. Every read of it is in the access log."""

    name: str | None
    phone: str | None


class FollowUpOut(BaseModel):
    """The last conclusive call-back (回访): the appellant answered."""

    at: datetime
    solved: bool | None
    satisfaction: str | None


class DeadlineOut(BaseModel):
    stage: str
    due_at: datetime
    warn_at: datetime
    met_at: datetime | None
    reason: str  # which limit applied, and what it beat
    extensions: list[dict[str, Any]]
    # Not met and past due, now.
    overdue: bool


class ExtensionOut(BaseModel):
    """A request for more time (延期) and its ruling."""

    id: int
    stage: str
    working_days: int
    reason: str
    requested_by: str
    requested_at: datetime
    status: str  # pending, granted, refused
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    previous_due_at: datetime | None
    new_due_at: datetime | None


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
    # null when anonymous (or not known yet).
    appellant: AppellantOut | None
    anonymous: bool
    contacted: bool
    resolution: str | None
    reopen_count: int
    escalated: bool
    closed_reason: str | None
    accepted_at: datetime | None
    first_contacted_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    follow_up: FollowUpOut | None
    unreasonable: UnreasonableOut | None
    # The officer's nearest unmet deadline.
    due_at: datetime | None
    due_stage: str | None
    deadlines: list[DeadlineOut]
    extensions: list[ExtensionOut]
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
    appeal_id: UUID, caller: Caller, session: SnapshotSessionDep, request: Request
) -> AppealOut:
    """The appeal's record: lifecycle, appellant, deadlines, extension requests and history.
    Readable by ops, the officer it is assigned to, its assistants, and supervisors of the
    assigned officer's unit; anyone else signed in gets 403. Each answer that shows the
    appellant's name or phone writes a row to the access log (`GET /v1/access-log`).

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
    now = utcnow()
    appellant = appellant_of(row)
    extra: dict[str, Any] = {
        "appellant": appellant,
        "follow_up": follow_up_of(row),
        "unreasonable": unreasonable_of(row),
        # A closed appeal is overdue on nothing: what was left unmet was called off.
        "deadlines": await _deadlines(session, appeal_id, None if row.status == "closed" else now),
        "extensions": await _extensions(session, appeal_id),
        "history": render_history(await store.history_of(session, appeal_id)),
    }
    if appellant is not None:
        shown = [f for f in ("name", "phone") if getattr(appellant, f) is not None]
        await record_access(session, caller, appeal_id, shown, _route_of(request))
    # The log row commits with the read: an answer that showed the appellant was logged.
    await session.commit()
    return AppealOut.model_validate({**row._mapping, **extra})


def appellant_of(row: Any) -> AppellantOut | None:
    if row.anonymous or (row.appellant_name is None and row.appellant_phone is None):
        return None
    return AppellantOut(name=row.appellant_name, phone=row.appellant_phone)


def follow_up_of(row: Any) -> FollowUpOut | None:
    if row.followed_up_at is None:
        return None
    return FollowUpOut(
        at=row.followed_up_at,
        solved=row.follow_up_solved,
        satisfaction=row.follow_up_satisfaction,
    )


def _route_of(request: Request) -> str:
    # The route's template, not the path: the appeal id has its own column.
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


async def _deadlines(
    session: AsyncSession, appeal_id: UUID, now: datetime | None
) -> list[DeadlineOut]:
    t = store.deadlines
    rows = (await session.execute(select(t).where(t.c.appeal_id == appeal_id))).all()
    rows.sort(key=lambda r: (STAGE_ORDER.get(r.stage, len(STAGE_ORDER)), r.due_at))
    return [
        DeadlineOut(
            stage=r.stage,
            due_at=r.due_at,
            warn_at=r.warn_at,
            met_at=r.met_at,
            reason=r.reason,
            extensions=list(r.extensions),
            overdue=now is not None and r.met_at is None and now > r.due_at,
        )
        for r in rows
    ]


async def _extensions(session: AsyncSession, appeal_id: UUID) -> list[ExtensionOut]:
    t = store.extensions
    rows = await session.execute(
        select(t).where(t.c.appeal_id == appeal_id).order_by(t.c.requested_at, t.c.id)
    )
    return [ExtensionOut.model_validate(r, from_attributes=True) for r in rows]


def render_history(rows: Sequence[Any]) -> list[HistoryEntry]:
    """`rows` in the order things happened. Each stored `status` is where the appeal stood after
    the entry, as tracking heard it; an entry that stored the same status as the entry heard just
    before it (by id) moved nothing. Such an entry shows where the appeal stood at its own time:
    events from different topics arrive out of order (a repeat merged after the assignment may be
    heard before it), so its stored status may be older than the entries around it. No list of
    kinds: new kinds that move no status need no change here."""
    heard_before: dict[int, str | None] = {}
    last: str | None = None
    for h in sorted(rows, key=lambda h: h.id):
        heard_before[h.id] = last
        last = h.status
    entries: list[HistoryEntry] = []
    previous: AppealStatus | None = None
    for h in rows:
        to = AppealStatus(h.status)
        if previous is not None and h.status == heard_before[h.id]:
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
    return entries


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
