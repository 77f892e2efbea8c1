"""不合理诉求: a supervisor of the appeal's unit (or ops) marks an appeal unreasonable after review,
with a reason, so the rates leave it out. The status does not change; the mark is final (a second
one is 409) and goes to the history and to `appeals.lifecycle` as AppealMarkedUnreasonable."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import func, select

from services.tracking import store
from shared.events import AppealMarkedUnreasonable
from shared.http import CorrelationId
from shared.identity import Principal, Role, forbidden, oversees, require_roles
from shared.vocabulary import AppealStatus

router = APIRouter(prefix="/v1", tags=["appeals"])
MARKERS = require_roles(Role.SUPERVISOR, Role.DISPATCHER, Role.OPS)

SERVICE = "tracking"
WHO = "only a supervisor of the appeal's unit or ops"
ACTOR_CHARS = 100  # the history's and the column's width


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
        at=row.unreasonable_at,
        by=row.unreasonable_by or "",
        reason=row.unreasonable_reason or "",
    )


# --- the rule (pure) ---------------------------------------------------------------------------


def may_mark(principal: Principal, officer_unit: str | None) -> bool:
    """Ops, or a supervisor or dispatcher of the unit of the officer the appeal is assigned to.
    An appeal not assigned yet has no unit: ops only."""
    return oversees(principal, officer_unit)


def already_marked(mark: UnreasonableOut | None) -> str | None:
    """Why a new mark is refused (409), or None when the appeal may be marked."""
    if mark is None:
        return None
    return f"already marked unreasonable by {mark.by} at {mark.at.isoformat()}: {mark.reason}"


# --- the route ---------------------------------------------------------------------------------


class UnreasonableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Stripped first, so a blank reason is too short (422 naming `reason`).
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class MarkedOut(BaseModel):
    appeal_id: UUID
    status: AppealStatus
    unreasonable: UnreasonableOut


@router.post(
    "/appeals/{appeal_id}/unreasonable",
    responses={403: {}, 404: {"description": "Not heard of"}, 409: {"description": "Marked"}},
)
async def mark_unreasonable(
    appeal_id: UUID,
    body: UnreasonableIn,
    request: Request,
    caller: Annotated[Principal, Depends(MARKERS)],
    x_correlation_id: CorrelationId = None,
) -> MarkedOut:
    """Marks the appeal unreasonable (不合理诉求) with a reason: the status stays, the rates leave
    it out. Supervisors of the assigned officer's unit and ops; a second mark is 409."""
    runtime = request.app.state.runtime
    async with runtime.units.begin() as uow:
        session = uow.session
        # Locked: two marks at once take turns, and the second one sees the first (409).
        row = (
            await session.execute(
                select(store.appeals)
                .where(store.appeals.c.appeal_id == appeal_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            raise HTTPException(404, f"tracking has not heard of appeal {appeal_id} yet")
        if not may_mark(caller, await store.unit_of(session, row.officer_id)):
            raise forbidden(request, WHO)
        refusal = already_marked(unreasonable_of(row))
        if refusal is not None:
            raise HTTPException(409, refusal)
        now = datetime.now(UTC)
        status = AppealStatus(row.status) if row.status else AppealStatus.RECEIVED
        by = caller.sub[:ACTOR_CHARS]
        await session.execute(
            store.appeals.update()
            .where(store.appeals.c.appeal_id == appeal_id)
            .values(
                unreasonable_at=now,
                unreasonable_by=by,
                unreasonable_reason=body.reason,
                updated_at=func.now(),
            )
        )
        envelope = await uow.publish(
            AppealMarkedUnreasonable(
                appeal_id=appeal_id, marked_by=by, reason=body.reason, marked_at=now
            ),
            correlation_id=x_correlation_id or str(uuid4()),
        )
        # The history entry shares the event's id: one fact, traceable from either side.
        await store.append_history(
            session,
            appeal_id=appeal_id,
            event_id=envelope.event_id,
            kind="unreasonable",
            status=status,
            occurred_at=now,
            actor=by,
            note=body.reason,
        )
    return MarkedOut(
        appeal_id=appeal_id,
        status=status,
        unreasonable=UnreasonableOut(at=now, by=by, reason=body.reason),
    )
