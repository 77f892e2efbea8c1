"""The officer's desk: their queue (`GET /v1/me/queue`), an officer's queue for those who oversee
them (`GET /v1/officers/{id}/queue`), and their steps on the appeals they work: accept (签收),
contact, progress, resolve (办结), return (退单). The lead officer takes every step; an assisting
officer (协办) may record contacts and progress notes, shown in the history as theirs (403
otherwise). What the lifecycle refuses is 409 with its reason. Each answer comes after the change
and its events are committed. The routes parse, call the workflow, and serialise."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func, literal, or_, select
from sqlalchemy.types import DateTime

from services.tracking.appeals.api import WORKFLOW_REFUSALS, workflow_of
from services.tracking.appeals.appeal import Appeal
from services.tracking.appeals.lifecycle import (
    Accept,
    Action,
    Contact,
    Progress,
    RequestReturn,
    Resolve,
)
from services.tracking.directory.store import unit_of
from services.tracking.tables import appeals
from shared.clock import utcnow
from shared.http import CorrelationId, Cursor, Limit, Page, SessionDep, UnitsDep
from shared.identity import (
    FORBIDDEN,
    CurrentPrincipal,
    Principal,
    Role,
    can_read_officer,
    forbidden,
)
from shared.pagination import paginate
from shared.vocabulary import AppealStatus

router = APIRouter(prefix="/v1", tags=["officer's desk"])

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
OFFICERS_ONLY = "only the appeal's officers may act on it"
OPEN_STATUSES = [s.value for s in AppealStatus if s != AppealStatus.CLOSED]
# Sorts an appeal with no deadline after every one that has one.
NO_DEADLINE = literal(datetime(9999, 12, 31, tzinfo=UTC), DateTime(timezone=True))


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AcceptIn(_Body):
    pass


class ContactIn(_Body):
    method: Literal["phone", "visit", "sms"]
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""


class ProgressIn(_Body):
    note: Text


class ResolveIn(_Body):
    resolution: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
    ]


class ReturnIn(_Body):
    # `not_my_area` may be accepted by dispatch at once when the rules route it elsewhere.
    reason_code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,39}$")]
    reason: Text


class ActionOut(BaseModel):
    appeal_id: UUID
    status: AppealStatus
    officer_id: str | None
    due_at: datetime | None
    due_stage: str | None

    @classmethod
    def of(cls, appeal: Appeal) -> ActionOut:
        due_at, due_stage = appeal.due()
        return cls(
            appeal_id=appeal.appeal_id,
            status=appeal.state.status,
            officer_id=appeal.state.officer_id,
            due_at=due_at,
            due_stage=None if due_stage is None else due_stage.value,
        )


class QueueItem(BaseModel):
    appeal_id: UUID
    tracking_code: str | None
    status: AppealStatus | None
    # `lead`: the officer responsible; `assistant`: helping (协办) the lead.
    role: Literal["lead", "assistant"]
    due_at: datetime | None
    due_stage: str | None
    # Seconds to the nearest running deadline: negative once overdue; null when none runs.
    time_left_s: int | None
    overdue: bool
    type: str | None = Field(default=None, validation_alias="appeal_type")
    channel: str | None = None
    category: str | None
    urgency: str | None
    summary: str | None
    received_at: datetime | None
    assigned_at: datetime | None
    times_raised: int
    reopen_count: int
    escalated: bool


# The appeals columns a queue item is made of (`role`, `time_left_s` and `overdue` are worked
# out from `officer_id` and `due_at`).
QUEUE_COLUMNS = (
    *(
        field.validation_alias if isinstance(field.validation_alias, str) else name
        for name, field in QueueItem.model_fields.items()
        if name not in ("role", "time_left_s", "overdue")
    ),
    "officer_id",
)


class MyQueue(BaseModel):
    officer_id: str
    items: list[QueueItem]
    next_cursor: str | None = None


def _item(row: Any, officer_id: str, now: datetime) -> QueueItem:
    left = None if row.due_at is None else int((row.due_at - now).total_seconds())
    return QueueItem.model_validate(
        {
            **row._mapping,
            "role": "lead" if row.officer_id == officer_id else "assistant",
            "time_left_s": left,
            "overdue": left is not None and left < 0,
        }
    )


async def _queue(
    session: SessionDep,
    officer_id: str,
    status: AppealStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[QueueItem]:
    """The officer's appeals, led and assisted, open ones unless `status` says otherwise,
    nearest deadline first (those with none last), in keyset pages."""
    t = appeals
    # Keyset pages need a sort key without NULLs: no deadline sorts as the far future.
    due = func.coalesce(t.c.due_at, NO_DEADLINE).label("sort_due")
    # Only what an item shows: the JSONB columns (submissions, classification, follow-ups) are
    # most of a row's decoding, and a queue holds hundreds.
    shown = [t.c[name] for name in QUEUE_COLUMNS]
    query = select(*shown, due).where(
        or_(t.c.officer_id == officer_id, t.c.assistant_officer_ids.contains([officer_id]))
    )
    if status is not None:
        query = query.where(t.c.status == status.value)
    else:
        query = query.where(t.c.status.in_(OPEN_STATUSES))
    now = utcnow()
    return await paginate(
        session,
        query,
        [due, t.c.appeal_id],
        limit=limit,
        cursor=cursor,
        item=lambda row: _item(row, officer_id, now),
    )


@router.get("/me/queue")
async def my_queue(
    caller: CurrentPrincipal,
    session: SessionDep,
    status: AppealStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    cursor: Cursor = None,
) -> MyQueue:
    """The caller's appeals: those they lead and those they assist (`role`), open ones unless
    `status` says otherwise, nearest deadline first (those with none last); pages of `limit`."""
    page = await _queue(session, caller.sub, status, limit, cursor)
    return MyQueue(officer_id=caller.sub, items=page.items, next_cursor=page.next_cursor)


@router.get("/officers/{officer_id}/queue", responses={403: FORBIDDEN})
async def officer_queue(
    officer_id: Annotated[str, Path(max_length=64)],
    caller: CurrentPrincipal,
    session: SessionDep,
    request: Request,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: AppealStatus | None = None,
) -> Page[QueueItem]:
    """An officer's appeals, as in their own queue: readable by the officer, a supervisor or
    dispatcher of their unit (as tracking last heard it from the directory) and ops; anyone else
    signed in gets 403."""
    unit = await unit_of(session, officer_id)
    if not can_read_officer(caller, officer_id, unit):
        raise forbidden(request, "only the officer, a supervisor of their unit or ops")
    return await _queue(session, officer_id, status, limit, cursor)


# --- the officer's steps -----------------------------------------------------------------------


async def act(
    request: Request,
    caller: Principal,
    units: UnitsDep,
    appeal_id: UUID,
    action: Action,
    correlation_id: str | None,
) -> ActionOut:
    """Hands an officer's step to the workflow (it checks, under the appeal's lock, that the
    caller may take it)."""
    if Role.OFFICER not in caller.roles:
        raise forbidden(request, OFFICERS_ONLY)
    async with units.begin() as uow:
        after = await workflow_of(request).act(
            uow, appeal_id, action, correlation_id=correlation_id or str(uuid4())
        )
    return ActionOut.of(after)


@router.post("/appeals/{appeal_id}/accept", responses=WORKFLOW_REFUSALS)
async def accept(
    appeal_id: UUID,
    body: AcceptIn,
    caller: CurrentPrincipal,
    units: UnitsDep,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> ActionOut:
    """签收: the lead officer takes the appeal on (a reopened one too, again)."""
    return await act(request, caller, units, appeal_id, Accept(by=caller.sub), x_correlation_id)


@router.post("/appeals/{appeal_id}/contact", responses=WORKFLOW_REFUSALS)
async def contact(
    appeal_id: UUID,
    body: ContactIn,
    caller: CurrentPrincipal,
    units: UnitsDep,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> ActionOut:
    """A contact with the appellant (phone, visit, sms), by the lead or an assisting officer;
    a resolution needs one."""
    action = Contact(by=caller.sub, method=body.method, note=body.note)
    return await act(request, caller, units, appeal_id, action, x_correlation_id)


@router.post("/appeals/{appeal_id}/progress", responses=WORKFLOW_REFUSALS)
async def progress(
    appeal_id: UUID,
    body: ProgressIn,
    caller: CurrentPrincipal,
    units: UnitsDep,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> ActionOut:
    """Work has started, or a note on how it goes (the lead's, or an assisting officer's)."""
    action = Progress(by=caller.sub, note=body.note)
    return await act(request, caller, units, appeal_id, action, x_correlation_id)


@router.post("/appeals/{appeal_id}/resolve", responses=WORKFLOW_REFUSALS)
async def resolve(
    appeal_id: UUID,
    body: ResolveIn,
    caller: CurrentPrincipal,
    units: UnitsDep,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> ActionOut:
    """办结, with what was done (the lead alone); the follow-up window (回访) starts."""
    action = Resolve(by=caller.sub, resolution=body.resolution)
    return await act(request, caller, units, appeal_id, action, x_correlation_id)


@router.post("/appeals/{appeal_id}/return", responses=WORKFLOW_REFUSALS)
async def give_back(
    appeal_id: UUID,
    body: ReturnIn,
    caller: CurrentPrincipal,
    units: UnitsDep,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> ActionOut:
    """退单: asks to give the appeal back; the duty dispatcher rules on it (dispatch)."""
    action = RequestReturn(by=caller.sub, reason_code=body.reason_code, reason=body.reason)
    return await act(request, caller, units, appeal_id, action, x_correlation_id)
