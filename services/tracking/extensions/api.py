"""Extensions (延期) over HTTP: the lead officer asks for more working days for the running
resolve deadline, before it falls due, with a reason (one pending at a time); a dispatcher or a
supervisor of the officer's unit grants or refuses it. A request whose round ends first (resolved,
reassigned, closed) is cancelled by the workflow. The routes parse, call the workflow (which
decides and records it, appeals/appeal.py) and serialise. `GET /v1/extensions` lists requests
across appeals (`status=pending`: the rulers' work list), for those who may rule on them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.tracking import tables
from services.tracking.appeals.api import WORKFLOW_REFUSALS, workflow_of
from services.tracking.appeals.appeal import (
    MAX_EXTENSION_DAYS,
    Appeal,
    ExtensionStatus,
    PendingExtension,
)
from services.tracking.appeals.lifecycle import RequestExtension
from services.tracking.deadlines.policy import Stage
from services.tracking.extensions import store
from shared.http import CorrelationId, Cursor, Limit, Page, SessionDep, UnitsDep
from shared.identity import (
    FORBIDDEN,
    CurrentPrincipal,
    Principal,
    Role,
    forbidden,
    require_roles,
)
from shared.pagination import paginate
from shared.vocabulary import AppealStatus

router = APIRouter(prefix="/v1", tags=["officer's desk"])

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class ExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(ge=1, le=MAX_EXTENSION_DAYS, description="working days")
    reason: Text


class ExtensionDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["grant", "refuse"]
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""


class ExtensionOut(BaseModel):
    extension_id: int
    appeal_id: UUID
    status: Literal["pending", "granted", "refused", "cancelled"]
    working_days: int
    reason: str
    due_at: datetime  # the resolve deadline now

    @classmethod
    def of(cls, appeal: Appeal, request: PendingExtension, status: str) -> ExtensionOut:
        return cls.model_validate(
            {
                "extension_id": request.extension_id,
                "appeal_id": appeal.appeal_id,
                "status": status,
                "working_days": request.working_days,
                "reason": request.reason,
                "due_at": appeal.deadlines[Stage.RESOLVE].due_at,
            }
        )


@router.post("/appeals/{appeal_id}/extension", status_code=201, responses=WORKFLOW_REFUSALS)
async def ask_extension(
    appeal_id: UUID,
    body: ExtensionIn,
    caller: CurrentPrincipal,
    units: UnitsDep,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> ExtensionOut:
    """延期: more working days for the resolution, asked before its deadline, with a reason;
    a dispatcher or the unit's supervisor grants or refuses it. One pending request at a time."""
    if Role.OFFICER not in caller.roles:
        raise forbidden(request, "only the appeal's lead officer may act on it")
    action = RequestExtension(by=caller.sub, days=body.days, reason=body.reason)
    async with units.begin() as uow:
        after, pending = await workflow_of(request).request_extension(
            uow, appeal_id, action, correlation_id=x_correlation_id or str(uuid4())
        )
    return ExtensionOut.of(after, pending, "pending")


@router.post("/appeals/{appeal_id}/extension-decision", responses=WORKFLOW_REFUSALS)
async def decide_extension(
    appeal_id: UUID,
    body: ExtensionDecisionIn,
    caller: CurrentPrincipal,
    units: UnitsDep,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> ExtensionOut:
    """The ruling on the pending extension: a dispatcher (zone-wide duty), or a supervisor of
    the officer's unit. Granted, the resolve deadline moves by the working days asked for,
    counted from the day it fell due; its warning and public notice move with it."""
    if not caller.has_any(Role.DISPATCHER, Role.SUPERVISOR):
        raise forbidden(request, "only a dispatcher or a supervisor of the officer's unit")
    async with units.begin() as uow:
        after, ruling = await workflow_of(request).decide_extension(
            uow,
            appeal_id,
            caller,
            grant=body.decision == "grant",
            note=body.note,
            correlation_id=x_correlation_id or str(uuid4()),
        )
    return ExtensionOut.of(after, ruling.request, ruling.status)


# --- the rulers' work list ---------------------------------------------------------------------

Lister = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.SUPERVISOR, Role.OPS))]


class ExtensionRequestOut(BaseModel):
    """A request across appeals: the appeal it is for, its lead officer and their unit, and
    the deadline it asks more time for as it stands now. Nothing personal."""

    extension_id: int
    appeal_id: UUID
    tracking_code: str | None
    summary: str | None
    appeal_status: AppealStatus | None
    officer_id: str | None
    unit: str | None  # the lead officer's, as tracking last heard it from the directory
    stage: str
    working_days: int
    reason: str
    requested_by: str
    requested_at: datetime
    status: ExtensionStatus
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    due_at: datetime | None


def _list_scope(request: Request, caller: Principal, unit: str | None) -> str | None:
    """The unit whose requests the caller reads; None: every unit. Ops and dispatchers (who
    rule zone-wide) read every unit's, or the one asked for; a supervisor their own only."""
    if caller.has_any(Role.OPS, Role.DISPATCHER):
        return unit
    if caller.unit is None:
        raise forbidden(request, "your sign-in names no unit")
    if unit is not None and unit != caller.unit:
        raise forbidden(request, f"only requests of your own unit ({caller.unit})")
    return caller.unit


@router.get("/extensions", responses={403: FORBIDDEN})
async def list_extensions(
    request: Request,
    session: SessionDep,
    caller: Lister,
    status: ExtensionStatus | None = None,
    unit: Annotated[
        str | None, Query(max_length=100, description="The lead officer's unit")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[ExtensionRequestOut]:
    """Extension requests, oldest first; `status=pending` is what awaits a ruling. Ops and
    dispatchers read every unit's (or `unit`'s); a supervisor those of their own unit's
    officers (another `unit` is 403); officers 403."""
    scope = _list_scope(request, caller, unit)
    e = tables.extensions
    return await paginate(
        session,
        store.requests_query(status, scope),
        [e.c.requested_at, e.c.id],
        limit=limit,
        cursor=cursor,
        item=lambda r: ExtensionRequestOut.model_validate(r, from_attributes=True),
    )
