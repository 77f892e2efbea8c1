"""The officer's desk on tracking: their queue (`GET /v1/me/queue`), their actions on the appeals
they lead (accept 签收, contact, progress, resolve 办结, return 退单, extension 延期), and the
ruling on an extension by a dispatcher or supervisor.

Only the appeal's lead officer acts on it (403 otherwise, checked under the appeal's lock so a
reassignment cannot slip in between); what the lifecycle refuses is 409 with its reason; each
answer comes after the change and its events are committed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import DateTime

from services.tracking import store
from services.tracking.deadlines import ExtensionRefused, Stage
from services.tracking.lifecycle import (
    Accept,
    Action,
    Contact,
    Progress,
    Refused,
    RequestExtension,
    RequestReturn,
    Resolve,
)
from services.tracking.workflow import AppealWorkflow, NotYours
from shared.clock import utcnow
from shared.events import ExtensionDecided, ExtensionRequested
from shared.http import CorrelationId, Cursor, SessionDep
from shared.identity import Principal, Role, authenticated, forbidden, may_learn_existence
from shared.pagination import paginate
from shared.unit_of_work import UnitOfWork
from shared.vocabulary import AppealStatus

router = APIRouter(prefix="/v1", tags=["officer's desk"])

Caller = Annotated[Principal, Depends(authenticated())]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
# An extension is asked in working days; a month of them is the most one request may ask.
MAX_EXTENSION_DAYS = 22


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


class ExtensionIn(_Body):
    days: int = Field(ge=1, le=MAX_EXTENSION_DAYS, description="working days")
    reason: Text


class ExtensionDecisionIn(_Body):
    decision: Literal["grant", "refuse"]
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""


class ActionOut(BaseModel):
    appeal_id: UUID
    status: AppealStatus
    officer_id: str | None
    due_at: datetime | None
    due_stage: str | None


class ExtensionOut(BaseModel):
    extension_id: int
    appeal_id: UUID
    status: Literal["pending", "granted", "refused"]
    working_days: int
    reason: str
    due_at: datetime  # the resolve deadline now


class QueueItem(BaseModel):
    appeal_id: UUID
    tracking_code: str | None
    status: AppealStatus | None
    role: Literal["lead", "assistant"]
    due_at: datetime | None
    due_stage: str | None
    # Seconds to the nearest deadline: negative once overdue; null when none is running.
    time_left_s: int | None
    overdue: bool
    type: str | None = Field(default=None, validation_alias="appeal_type")
    category: str | None
    urgency: str | None
    summary: str | None
    received_at: datetime | None
    assigned_at: datetime | None
    times_raised: int
    reopen_count: int
    escalated: bool


# Sorts an appeal with no deadline after every one that has one.
NO_DEADLINE = literal(datetime(9999, 12, 31, tzinfo=UTC), DateTime(timezone=True))


class MyQueue(BaseModel):
    officer_id: str
    items: list[QueueItem]
    next_cursor: str | None = None


def _workflow(request: Request) -> AppealWorkflow:
    workflow: AppealWorkflow = request.app.state.workflow
    return workflow


@asynccontextmanager
async def _changing(request: Request) -> AsyncIterator[UnitOfWork]:
    """One unit of work for a change and its events."""
    async with request.app.state.runtime.units.begin() as uow:
        yield uow


async def refused(_request: Request, error: Exception) -> JSONResponse:
    """The app's handler for lifecycle.Refused: 409 naming the status and the action."""
    assert isinstance(error, Refused)
    return JSONResponse(
        status_code=409,
        content={"detail": error.reason, "status": error.status, "action": error.action},
    )


async def _known(
    session: AsyncSession, request: Request, caller: Principal, appeal_id: UUID
) -> Any:
    row = (
        await session.execute(select(store.appeals).where(store.appeals.c.appeal_id == appeal_id))
    ).first()
    if row is None or row.status is None:
        if may_learn_existence(caller):
            raise HTTPException(404, f"tracking has not heard of appeal {appeal_id} yet")
        raise forbidden(request, "only the appeal's officer may act on it")
    return row


async def _act(
    request: Request,
    caller: Caller,
    appeal_id: UUID,
    action: Action,
    correlation_id: str | None,
) -> ActionOut:
    if Role.OFFICER not in caller.roles:
        raise forbidden(request, "only the appeal's officer may act on it")
    workflow = _workflow(request)
    async with _changing(request) as uow:
        session = uow.session
        await _known(session, request, caller, appeal_id)
        try:
            await workflow.act(
                uow,
                appeal_id,
                action,
                at=utcnow(),
                event_id=uuid4(),
                correlation_id=correlation_id or str(uuid4()),
                officer_must_be=caller.sub,
            )
        except NotYours:
            raise forbidden(request, "only the appeal's officer may act on it") from None
        row = (
            await session.execute(
                select(store.appeals).where(store.appeals.c.appeal_id == appeal_id)
            )
        ).one()
    return ActionOut.model_validate(row, from_attributes=True)


@router.post("/appeals/{appeal_id}/accept")
async def accept(
    appeal_id: UUID,
    body: AcceptIn,
    caller: Caller,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> ActionOut:
    """签收: the officer takes the appeal on."""
    return await _act(request, caller, appeal_id, Accept(by=caller.sub), x_correlation_id)


@router.post("/appeals/{appeal_id}/contact")
async def contact(
    appeal_id: UUID,
    body: ContactIn,
    caller: Caller,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> ActionOut:
    """A contact with the appellant (phone, visit, sms); a resolution needs one."""
    action = Contact(by=caller.sub, method=body.method, note=body.note)
    return await _act(request, caller, appeal_id, action, x_correlation_id)


@router.post("/appeals/{appeal_id}/progress")
async def progress(
    appeal_id: UUID,
    body: ProgressIn,
    caller: Caller,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> ActionOut:
    """Work has started, or a note on how it goes."""
    action = Progress(by=caller.sub, note=body.note)
    return await _act(request, caller, appeal_id, action, x_correlation_id)


@router.post("/appeals/{appeal_id}/resolve")
async def resolve(
    appeal_id: UUID,
    body: ResolveIn,
    caller: Caller,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> ActionOut:
    """办结, with what was done; the follow-up window (回访) starts."""
    action = Resolve(by=caller.sub, resolution=body.resolution)
    return await _act(request, caller, appeal_id, action, x_correlation_id)


@router.post("/appeals/{appeal_id}/return")
async def give_back(
    appeal_id: UUID,
    body: ReturnIn,
    caller: Caller,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> ActionOut:
    """退单: asks to give the appeal back; the duty dispatcher rules on it (dispatch)."""
    action = RequestReturn(by=caller.sub, reason_code=body.reason_code, reason=body.reason)
    return await _act(request, caller, appeal_id, action, x_correlation_id)


@router.post("/appeals/{appeal_id}/extension", status_code=201)
async def ask_extension(
    appeal_id: UUID,
    body: ExtensionIn,
    caller: Caller,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> ExtensionOut:
    """延期: more working days for the resolution, asked before its deadline, with a reason;
    a dispatcher or the unit's supervisor grants or refuses it. One pending request at a time."""
    if Role.OFFICER not in caller.roles:
        raise forbidden(request, "only the appeal's officer may act on it")
    workflow = _workflow(request)
    now = utcnow()
    correlation_id = x_correlation_id or str(uuid4())
    async with _changing(request) as uow:
        session = uow.session
        await _known(session, request, caller, appeal_id)
        locked = await store.lock_appeal(session, appeal_id)
        if locked.state.officer_id != caller.sub:
            raise forbidden(request, "only the appeal's officer may act on it")
        deadline = (await store.deadlines_of(session, appeal_id)).get(Stage.RESOLVE)
        if deadline is None or deadline.met_at is not None:
            raise _conflict(locked.state.status, "the appeal has no running resolve deadline")
        if now > deadline.due_at:
            raise _conflict(
                locked.state.status,
                f"an extension must be asked for before the deadline "
                f"({deadline.due_at.isoformat()}); it has passed",
            )
        if await store.pending_extension(session, appeal_id) is not None:
            raise _conflict(locked.state.status, "an extension request is already pending")
        await workflow.act(
            uow,
            appeal_id,
            RequestExtension(by=caller.sub, days=body.days, reason=body.reason),
            at=now,
            event_id=uuid4(),
            correlation_id=correlation_id,
            kind="extension_requested",
            locked=locked,
        )
        extension_id = await store.add_extension(
            session,
            appeal_id=appeal_id,
            stage=Stage.RESOLVE,
            working_days=body.days,
            reason=body.reason,
            requested_by=caller.sub,
            requested_at=now,
            due_at=deadline.due_at,
        )
        boss = await store.officer_row(session, caller.sub)
        await workflow.publish(
            uow,
            ExtensionRequested(
                appeal_id=appeal_id,
                extension_id=extension_id,
                officer_id=caller.sub,
                supervisor_id=boss.supervisor_id if boss else None,
                stage=Stage.RESOLVE.value,
                working_days=body.days,
                reason=body.reason,
                due_at=deadline.due_at,
                requested_at=now,
            ),
            correlation_id=correlation_id,
        )
    return ExtensionOut(
        extension_id=extension_id,
        appeal_id=appeal_id,
        status="pending",
        working_days=body.days,
        reason=body.reason,
        due_at=deadline.due_at,
    )


@router.post("/appeals/{appeal_id}/extension-decision")
async def decide_extension(
    appeal_id: UUID,
    body: ExtensionDecisionIn,
    caller: Caller,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> ExtensionOut:
    """The ruling on the pending extension: a dispatcher (zone-wide duty), or a supervisor of
    the officer's unit. Granted, the resolve deadline moves by the working days asked for,
    counted from the day it fell due; its warning and public notice move with it."""
    if not caller.has_any(Role.DISPATCHER, Role.SUPERVISOR):
        raise forbidden(request, "only a dispatcher or a supervisor of the officer's unit")
    workflow = _workflow(request)
    now = utcnow()
    correlation_id = x_correlation_id or str(uuid4())
    async with _changing(request) as uow:
        session = uow.session
        await _known(session, request, caller, appeal_id)
        locked = await store.lock_appeal(session, appeal_id)
        unit = await store.unit_of(session, locked.state.officer_id)
        if Role.DISPATCHER not in caller.roles and (unit is None or caller.unit != unit):
            raise forbidden(request, "only a dispatcher or a supervisor of the officer's unit")
        pending = await store.pending_extension(session, appeal_id)
        if pending is None:
            raise _conflict(locked.state.status, "no extension request is pending")
        row = (await store.deadlines_of(session, appeal_id))[Stage(pending.stage)]
        due_at = row.due_at
        if body.decision == "grant":
            if row.met_at is not None:
                raise _conflict(
                    locked.state.status, f"the {pending.stage} stage is already done; refuse it"
                )
            try:
                extended = workflow.time.policy.extend(
                    store.stage_deadline_of(row),
                    pending.working_days,
                    requested_at=pending.requested_at,
                    reason=pending.reason,
                    calendar=workflow.time.calendar,
                )
            except ExtensionRefused as exc:
                raise _conflict(locked.state.status, str(exc)) from None
            due_at = extended.due_at
            await store.extend_deadline(
                session,
                appeal_id,
                extended,
                extension={
                    "extension_id": pending.id,
                    "working_days": pending.working_days,
                    "reason": pending.reason,
                    "requested_by": pending.requested_by,
                    "requested_at": pending.requested_at.isoformat(),
                    "granted_by": caller.sub,
                    "previous_due_at": row.due_at.isoformat(),
                    "due_at": due_at.isoformat(),
                },
                now=now,
                reminder_every=workflow.time.reminder_every,
            )
            await store.refresh_due(session, appeal_id)
        status = "granted" if body.decision == "grant" else "refused"
        await store.decide_extension(
            session,
            pending.id,
            status=status,
            decided_by=caller.sub,
            decided_at=now,
            note=body.note,
            new_due_at=due_at,
        )
        ruling = "同意" if status == "granted" else "不同意"
        note = f"延期 {pending.working_days} 个工作日：{ruling}；办结时限 {due_at.isoformat()}"
        await workflow.note(
            session,
            appeal_id,
            event_id=uuid4(),
            at=now,
            kind="extension_decided",
            actor=caller.sub,
            note=f"{note}（{body.note}）" if body.note else note,
            locked=locked,
        )
        await workflow.publish(
            uow,
            ExtensionDecided(
                appeal_id=appeal_id,
                extension_id=pending.id,
                officer_id=pending.requested_by,
                decision=body.decision,
                decided_by=caller.sub,
                note=body.note,
                previous_due_at=row.due_at,
                due_at=due_at,
                decided_at=now,
            ),
            correlation_id=correlation_id,
        )
    return ExtensionOut(
        extension_id=pending.id,
        appeal_id=appeal_id,
        status=status,
        working_days=pending.working_days,
        reason=pending.reason,
        due_at=due_at,
    )


def _conflict(status: AppealStatus, reason: str) -> Refused:
    return Refused(status, "RequestExtension", reason)


@router.get("/me/queue")
async def my_queue(
    caller: Caller,
    session: SessionDep,
    status: AppealStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    cursor: Cursor = None,
) -> MyQueue:
    """The caller's appeals: those they lead and those they assist (`role`), open ones unless
    `status` says otherwise, nearest deadline first (those with none last); pages of `limit`."""
    t = store.appeals
    me = caller.sub
    # Keyset pages need a sort key without NULLs: no deadline sorts as the far future.
    due = func.coalesce(t.c.due_at, NO_DEADLINE).label("sort_due")
    query = select(t, due).where(
        or_(t.c.officer_id == me, t.c.assistant_officer_ids.contains([me]))
    )
    if status is not None:
        query = query.where(t.c.status == status.value)
    else:
        query = query.where(t.c.status.is_not(None), t.c.status != AppealStatus.CLOSED.value)
    page = await paginate(
        session, query, [due, t.c.appeal_id], limit=limit, cursor=cursor, item=lambda r: r
    )
    now = utcnow()
    items = []
    for row in page.items:
        left = None if row.due_at is None else int((row.due_at - now).total_seconds())
        items.append(
            QueueItem.model_validate(
                {
                    **row._mapping,
                    "role": "lead" if row.officer_id == me else "assistant",
                    "time_left_s": left,
                    "overdue": left is not None and left < 0,
                }
            )
        )
    return MyQueue(officer_id=me, items=items, next_cursor=page.next_cursor)
