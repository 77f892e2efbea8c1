"""An appeal over HTTP: its view (lifecycle, appellant, deadlines, extensions, history), and the
unreasonable mark (不合理诉求). A sign-in token is needed (401 without a valid one); who may read
what is decided per request (403 otherwise). Reading an appeal's appellant is written to the
access log. Also the answers every route of tracking gives when the workflow refuses a change
(409), the caller may not make it (403), or the appeal is not known (404 / 403)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking.access_log.store import record_access
from services.tracking.appeals import store
from services.tracking.appeals.appeal import NotYours
from services.tracking.appeals.lifecycle import Refused, steps_allowed
from services.tracking.appeals.workflow import AppealWorkflow, UnknownAppeal
from services.tracking.deadlines.alarms import runs
from services.tracking.deadlines.policy import Stage
from services.tracking.directory.store import unit_of
from shared.clock import utcnow
from shared.http import CorrelationId, SnapshotSessionDep, UnitsDep, refusal
from shared.identity import (
    FORBIDDEN,
    CurrentPrincipal,
    Principal,
    Role,
    can_read_appeal,
    forbidden,
    may_learn_existence,
    require_roles,
)
from shared.vocabulary import AppealStatus

router = APIRouter(prefix="/v1", tags=["appeals"])

# The order the deadlines are listed in: the order they fall due.
STAGE_ORDER = {stage.value: n for n, stage in enumerate(Stage)}
READERS = "only the officers on an appeal, their supervisors or ops"
Marker = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.DISPATCHER, Role.OPS))]


class RefusedOut(BaseModel):
    """The lifecycle's no (409): why, in which status, to which action."""

    detail: str
    status: AppealStatus
    action: str


# What reading an appeal may answer besides its view, and what every route that changes one
# through the workflow may (the handlers at the end of this module give them).
READ_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: FORBIDDEN,
    404: refusal("Tracking has not heard of the appeal (ops and supervisors; others get 403)"),
}
WORKFLOW_REFUSALS: dict[int | str, dict[str, Any]] = {
    **READ_REFUSALS,
    409: refusal("The lifecycle refuses the action in the appeal's status", RefusedOut),
}


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
    # Runs in the appeal's status (a stage that does not is paused or over: nothing fires).
    running: bool
    # Running, not met and past due, now.
    overdue: bool


class UnreasonableOut(BaseModel):
    """The mark, as the appeal's view and the search show it."""

    at: datetime
    by: str
    reason: str


def unreasonable_of(row: Any) -> UnreasonableOut | None:
    """The mark on an appeals row, or None when it has none."""
    if row.unreasonable_at is None:
        return None
    return UnreasonableOut(
        at=row.unreasonable_at, by=row.unreasonable_by or "", reason=row.unreasonable_reason or ""
    )


class ExtensionOut(BaseModel):
    """A request for more time (延期) and its ruling (pending, granted, refused, or cancelled when
    its round ended first)."""

    id: int
    stage: str
    working_days: int
    reason: str
    requested_by: str
    requested_at: datetime
    status: str  # pending, granted, refused, cancelled
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
    # The steps the caller may take now (the lifecycle's table, for the lead or an assistant):
    # what a client offers, so that it never offers a step the service would refuse by status.
    steps: list[str] = Field(default_factory=list)


@router.get("/appeals/{appeal_id}", responses=READ_REFUSALS)
async def get_appeal(
    appeal_id: UUID, caller: CurrentPrincipal, session: SnapshotSessionDep, request: Request
) -> AppealOut:
    """The appeal's record: lifecycle, appellant, deadlines, extension requests and history.
    Readable by ops, the officer it is assigned to, its assistants, and supervisors of the
    assigned officer's unit; anyone else signed in gets 403. Each answer that shows the
    appellant's name or phone writes a row to the access log (`GET /v1/access-log`).

    An appeal tracking has not heard of (yet) is 404 for ops and supervisors, but 403 for anyone
    else: a plain officer cannot tell an unknown appeal from someone else's."""
    row = await store.appeal_row(session, appeal_id)
    if row is None:
        raise _unknown(request, caller, appeal_id)
    allowed = can_read_appeal(
        caller,
        officer_id=row.officer_id,
        assistant_officer_ids=row.assistant_officer_ids,
        officer_unit=await unit_of(session, row.officer_id),
    )
    if not allowed:
        raise forbidden(request, READERS)
    now = utcnow()
    appellant = appellant_of(row)
    extra: dict[str, Any] = {
        "appellant": appellant,
        "follow_up": follow_up_of(row),
        "unreasonable": unreasonable_of(row),
        "deadlines": await _deadlines(session, appeal_id, AppealStatus(row.status), now),
        "extensions": await _extensions(session, appeal_id),
        "history": render_history(await store.history_of(session, appeal_id)),
        "steps": _steps_for(caller, row),
    }
    if appellant is not None:
        shown = [f for f in ("name", "phone") if getattr(appellant, f) is not None]
        await record_access(session, caller, appeal_id, shown, _route_of(request))
    # The log row commits with the read: an answer that showed the appellant was logged.
    await session.commit()
    return AppealOut.model_validate({**row._mapping, **extra})


def _steps_for(caller: Principal, row: Any) -> list[str]:
    if row.status is None or not caller.has_any(Role.OFFICER):
        return []
    if caller.sub == row.officer_id:
        return steps_allowed(AppealStatus(row.status), lead=True)
    if caller.sub in (row.assistant_officer_ids or ()):
        return steps_allowed(AppealStatus(row.status), lead=False)
    return []


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
    session: AsyncSession, appeal_id: UUID, status: AppealStatus, now: datetime
) -> list[DeadlineOut]:
    rows = sorted(
        await store.deadline_rows(session, appeal_id),
        key=lambda r: (STAGE_ORDER.get(r.stage, len(STAGE_ORDER)), r.due_at),
    )
    out = []
    for r in rows:
        running = runs(Stage(r.stage), status)
        out.append(
            DeadlineOut(
                stage=r.stage,
                due_at=r.due_at,
                warn_at=r.warn_at,
                met_at=r.met_at,
                reason=r.reason,
                extensions=list(r.extensions),
                running=running,
                overdue=running and r.met_at is None and now > r.due_at,
            )
        )
    return out


async def _extensions(session: AsyncSession, appeal_id: UUID) -> list[ExtensionOut]:
    rows = await store.extension_rows(session, appeal_id)
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


# --- the unreasonable mark (不合理诉求) ---------------------------------------------------------


class UnreasonableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Stripped first, so a blank reason is too short (422 naming `reason`).
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class MarkedOut(BaseModel):
    appeal_id: UUID
    status: AppealStatus
    unreasonable: UnreasonableOut


@router.post("/appeals/{appeal_id}/unreasonable", responses=WORKFLOW_REFUSALS)
async def mark_unreasonable(
    appeal_id: UUID,
    body: UnreasonableIn,
    request: Request,
    caller: Marker,
    units: UnitsDep,
    x_correlation_id: CorrelationId = None,
) -> MarkedOut:
    """Marks the appeal unreasonable (不合理诉求) with a reason: the status stays, the rates leave
    it out. Supervisors and dispatchers of the assigned officer's unit, and ops; a second mark
    is 409."""
    async with units.begin() as uow:
        after = await workflow_of(request).mark_unreasonable(
            uow,
            appeal_id,
            caller,
            reason=body.reason,
            correlation_id=x_correlation_id or str(uuid4()),
        )
    m = after.milestones
    assert m.unreasonable_at is not None
    return MarkedOut(
        appeal_id=appeal_id,
        status=after.state.status,
        unreasonable=UnreasonableOut(
            at=m.unreasonable_at, by=m.unreasonable_by or "", reason=m.unreasonable_reason or ""
        ),
    )


# --- what every route answers when the workflow says no -----------------------------------------


def workflow_of(request: Request) -> AppealWorkflow:
    workflow: AppealWorkflow = request.app.state.workflow
    return workflow


def _unknown(request: Request, caller: Principal, appeal_id: UUID) -> HTTPException:
    """An appeal tracking has not heard of is 404 for those who oversee many (ops,
    supervisors), but 403 for anyone else: a plain officer cannot tell an unknown appeal from
    someone else's."""
    if may_learn_existence(caller):
        return HTTPException(404, f"tracking has not heard of appeal {appeal_id} yet")
    return forbidden(request, READERS)


async def refused(_request: Request, error: Exception) -> JSONResponse:
    """lifecycle.Refused: 409 naming the status and the action."""
    assert isinstance(error, Refused)
    return JSONResponse(
        status_code=409,
        content={"detail": error.reason, "status": error.status, "action": error.action},
    )


async def not_yours(request: Request, error: Exception) -> JSONResponse:
    """appeal.NotYours: 403 naming the Authorization header, like every refusal of a caller."""
    assert isinstance(error, NotYours)
    exc = forbidden(request, error.reason)
    return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail})


async def unknown(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UnknownAppeal)
    caller: Principal = request.state.principal
    exc = _unknown(request, caller, error.args[0])
    return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail})
