"""Dispatch's HTTP API for appeals: who owns one and why, and the decisions that move it.

| route                                   | who may                                             |
|-----------------------------------------|-----------------------------------------------------|
| GET  /v1/assignments/{id}               | the officer holding it, an assistant, a supervisor  |
| GET  /v1/appeals/{id}/routing           | of that officer's unit, the dispatcher, ops         |
| GET  /v1/returns                        | dispatchers, supervisors, ops                       |
| POST /v1/appeals/{id}/return-decision   | dispatchers                                         |
| POST /v1/appeals/{id}/reassign          | supervisors                                         |
| POST /v1/appeals/{id}/assistants        | supervisors                                         |
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import tables
from services.dispatch.assignments import store
from services.dispatch.assignments.model import ReturnStatus
from services.dispatch.assignments.service import MAX_ASSISTANTS, Ownership, OwnershipError
from shared.http import CorrelationId, Cursor, Limit, Page, Problems, SessionDep, UnitsDep, refusal
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
from shared.pagination import paginate
from shared.unit_of_work import UnitOfWork

router = APIRouter(prefix="/v1", tags=["assignments"])


class AssignmentOut(BaseModel):
    appeal_id: UUID
    officer_id: str
    reason_code: str
    reason: str
    assigned_at: datetime
    open: bool
    assistant_officer_ids: list[str]
    accepted_returns: int
    excluded_officer_ids: list[str]


class RuleTrace(BaseModel):
    rule: str
    matched: bool
    why: str


class RoutingOut(BaseModel):
    appeal_id: UUID
    officer_id: str
    reason_code: str
    reason: str
    rules: list[RuleTrace]


class ReturnOut(BaseModel):
    return_id: UUID
    appeal_id: UUID
    officer_id: str
    reason_code: str
    reason: str
    requested_at: datetime
    status: ReturnStatus
    decided_by: str | None  # the dispatcher, `dispatch`, or who moved the appeal (superseded)
    decided_at: datetime | None
    note: str
    automatic: bool


class ReturnDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accept", "reject"]
    note: str = Field(default="", max_length=500)


class ReturnDecisionOut(BaseModel):
    appeal_id: UUID
    decision: Literal["accept", "reject"]
    officer_id: str  # who holds the appeal now


class ReassignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    officer_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The officer to take it; without one the rules route it again",
    )
    note: str = Field(default="", max_length=500)


class ReassignOut(BaseModel):
    appeal_id: UUID
    from_officer_id: str
    officer_id: str
    reason_code: str
    reason: str


class AssistantsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    officer_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        max_length=MAX_ASSISTANTS
    )


class AssistantsOut(BaseModel):
    appeal_id: UUID
    lead_officer_id: str
    assistant_officer_ids: list[str]


def _ownership(request: Request, uow: UnitOfWork) -> Ownership:
    ownership: Ownership = request.app.state.ownership_in(uow)
    return ownership


async def ownership_refused(_request: Request, error: Exception) -> JSONResponse:
    """The app's handler for OwnershipError: 404 / 409 / 422 naming the field (or the appeal)."""
    assert isinstance(error, OwnershipError)
    location = ["body", error.field] if error.field else ["path", "appeal_id"]
    kind = {404: "not_found", 409: "conflict", 422: "value_error"}[error.status]
    return JSONResponse(
        status_code=error.status,
        content={"detail": [{"loc": location, "msg": str(error), "type": kind}]},
    )


READERS = "only the officers on an appeal, their supervisors or ops"
# What reading an assignment answers besides it, and what the ownership decisions refuse
# (`ownership_refused`, each naming the field).
READ_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: FORBIDDEN,
    404: refusal("Not assigned (to ops, supervisors and dispatchers; others get 403)"),
}
OWNERSHIP_REFUSALS: dict[int | str, dict[str, Any]] = {
    404: refusal("Not assigned", Problems),
    409: refusal("Not now: nothing pending, or the appeal is closed", Problems),
}


async def _readable_assignment(
    request: Request, session: AsyncSession, appeal_id: UUID, principal: Principal
) -> Any:
    """The assignment if `principal` may read it (as tracking decides for the appeal, and the
    dispatchers too); an unknown appeal is 404 only to those who oversee many."""
    row = await store.assignment_row(session, appeal_id)
    if row is None:
        if may_learn_existence(principal) or principal.has_any(Role.DISPATCHER):
            raise HTTPException(404, f"appeal {appeal_id} has not been assigned")
        raise forbidden(request, READERS)
    if principal.has_any(Role.DISPATCHER) or can_read_appeal(
        principal,
        officer_id=row.officer_id,
        assistant_officer_ids=row.assistant_officer_ids,
        officer_unit=await store.officer_unit(session, row.officer_id),
    ):
        return row
    raise forbidden(request, READERS)


@router.get("/assignments/{appeal_id}", responses=READ_REFUSALS)
async def get_assignment(
    appeal_id: UUID, request: Request, session: SessionDep, caller: CurrentPrincipal
) -> AssignmentOut:
    """Who an appeal was routed to, and why."""
    row = await _readable_assignment(request, session, appeal_id, caller)
    return AssignmentOut.model_validate(row, from_attributes=True)


@router.get("/appeals/{appeal_id}/routing", responses=READ_REFUSALS)
async def get_routing(
    appeal_id: UUID, request: Request, session: SessionDep, caller: CurrentPrincipal
) -> RoutingOut:
    """The last routing decision with every rule's verdict, in order: which matched and why.
    After a manual reassignment the trace holds that decision alone."""
    row = await _readable_assignment(request, session, appeal_id, caller)
    return RoutingOut(
        appeal_id=row.appeal_id,
        officer_id=row.officer_id,
        reason_code=row.reason_code,
        reason=row.reason,
        rules=[RuleTrace.model_validate(r) for r in row.rules],
    )


@router.get("/returns")
async def list_returns(
    session: SessionDep,
    _principal: Annotated[
        Principal, Depends(require_roles(Role.DISPATCHER, Role.SUPERVISOR, Role.OPS))
    ],
    status: ReturnStatus | None = None,
    officer_id: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[ReturnOut]:
    """Returns (退单), oldest first: `status=pending` is the duty dispatcher's work list;
    `superseded` ones were settled without a ruling because the appeal moved or closed."""
    t = tables.returns
    return await paginate(
        session,
        store.returns_query(status, officer_id),
        [t.c.requested_at, t.c.return_id],
        limit=limit,
        cursor=cursor,
        item=lambda r: ReturnOut.model_validate(r, from_attributes=True),
    )


@router.post("/appeals/{appeal_id}/return-decision", responses=OWNERSHIP_REFUSALS)
async def decide_return(
    appeal_id: UUID,
    body: ReturnDecisionIn,
    request: Request,
    units: UnitsDep,
    principal: Annotated[Principal, Depends(require_roles(Role.DISPATCHER))],
    x_correlation_id: CorrelationId = None,
) -> ReturnDecisionOut:
    """The duty dispatcher rules on the return the appeal's holder asked for: `accept` routes it
    again without the officers who gave it back (after two accepted returns: the duty
    supervisor); `reject` leaves it with the officer, clock still running (first-receiver
    responsibility). 409 when the holder has no return awaiting a ruling."""
    async with units.begin() as uow:
        ruling = await _ownership(request, uow).decide_return(
            appeal_id,
            accept=body.decision == "accept",
            decided_by=principal.sub,
            note=body.note,
            correlation_id=x_correlation_id or str(uuid4()),
        )
    return ReturnDecisionOut(
        appeal_id=appeal_id, decision=body.decision, officer_id=ruling.officer_id
    )


@router.post("/appeals/{appeal_id}/reassign", responses=OWNERSHIP_REFUSALS)
async def reassign(
    appeal_id: UUID,
    body: ReassignIn,
    request: Request,
    units: UnitsDep,
    principal: Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))],
    x_correlation_id: CorrelationId = None,
) -> ReassignOut:
    """Moves the appeal to `officer_id` (the supervisor may overrule capacity), or without one
    routes it again excluding the current officer; a return the officer had asked for is
    settled (superseded). Published as AppealReassigned."""
    async with units.begin() as uow:
        moved = await _ownership(request, uow).reassign(
            appeal_id,
            by=principal.sub,
            officer_id=body.officer_id,
            note=body.note,
            correlation_id=x_correlation_id or str(uuid4()),
        )
    return ReassignOut(
        appeal_id=appeal_id,
        from_officer_id=moved.from_officer_id,
        officer_id=moved.officer_id,
        reason_code=moved.reason_code,
        reason=moved.reason,
    )


@router.post("/appeals/{appeal_id}/assistants", responses=OWNERSHIP_REFUSALS)
async def set_assistants(
    appeal_id: UUID,
    body: AssistantsIn,
    request: Request,
    units: UnitsDep,
    principal: Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))],
    x_correlation_id: CorrelationId = None,
) -> AssistantsOut:
    """Sets the assisting officers (协办), replacing the previous list (empty clears it); the
    lead stays responsible for the deadline. Published as AssistantsChanged."""
    async with units.begin() as uow:
        changed = await _ownership(request, uow).set_assistants(
            appeal_id,
            by=principal.sub,
            officer_ids=body.officer_ids,
            correlation_id=x_correlation_id or str(uuid4()),
        )
    return AssistantsOut(
        appeal_id=appeal_id,
        lead_officer_id=changed.lead_officer_id,
        assistant_officer_ids=changed.assistant_officer_ids,
    )
