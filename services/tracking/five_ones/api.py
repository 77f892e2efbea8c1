"""The five-ones report: for a month, each CSO's enterprises contacted and not, visits and
problems solved. JSON, or CSV for Excel with `Accept: text/csv`. Ops read every CSO, a
supervisor the CSOs of their unit, a CSO themself."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from services.tracking.five_ones import rules as five_ones
from services.tracking.five_ones import store as five_ones_store
from services.tracking.five_ones.rules import CsoStatus
from services.tracking.periods import MONTH_SCHEMA, Month
from shared.clock import utcnow
from shared.csv_export import csv_response, wants_csv
from shared.http import SnapshotSessionDep, validation_error
from shared.identity import FORBIDDEN, Principal, Role, authenticated, can_read_officer, forbidden

router = APIRouter(prefix="/v1", tags=["five ones"])

Caller = Annotated[Principal, Depends(authenticated())]
WHO = "only ops, a supervisor of the CSO's unit, or the CSO themself"

CSV_COLUMNS = (
    "month",
    "officer_id",
    "name",
    "unit",
    "enterprises_total",
    "contacted",
    "uncontacted",
    "visits",
    "problems_solved",
    "complete",
)


class EnterpriseOut(BaseModel):
    credit_code: str
    name: str


class CsoFiveOnes(BaseModel):
    officer_id: str
    # None until tracking has heard of the officer from the directory.
    name: str | None
    unit: str | None
    enterprises_total: int
    contacted: int
    uncontacted: list[EnterpriseOut]
    visits: int
    problems_solved: int
    # Every assigned enterprise contacted this month.
    complete: bool


class FiveOnesReport(BaseModel):
    month: str
    month_ends_on: date
    items: list[CsoFiveOnes]


def _out(status: CsoStatus) -> CsoFiveOnes:
    return CsoFiveOnes(
        officer_id=status.officer_id,
        name=status.name,
        unit=status.unit,
        enterprises_total=status.enterprises_total,
        contacted=status.contacted,
        uncontacted=[
            EnterpriseOut(credit_code=e.credit_code, name=e.name) for e in status.uncontacted
        ],
        visits=status.visits,
        problems_solved=status.problems_solved,
        complete=status.complete,
    )


def _csv_row(month: Month, item: CsoFiveOnes) -> dict[str, Any]:
    row = item.model_dump()
    # One cell a person reads: "code name; code name".
    row["uncontacted"] = [f"{e.credit_code} {e.name}" for e in item.uncontacted]
    row["month"] = str(month)
    return row


@router.get(
    "/reports/five-ones",
    response_model=FiveOnesReport,
    responses={200: {"content": {"text/csv": {}}}, 403: FORBIDDEN},
)
async def five_ones_report(
    caller: Caller,
    session: SnapshotSessionDep,
    request: Request,
    # Parsed after the access check (below); the schema still says what it takes.
    month: Annotated[
        str | None,
        Query(description="YYYY-MM (Shanghai); the current month if absent"),
        MONTH_SCHEMA,
    ] = None,
    officer_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    """Each CSO's five ones for the month: enterprises assigned, contacted (a visit, or a contact
    recorded on an appeal from the enterprise) and not, visits logged, and appeals they lead
    resolved in it. Ops see every CSO, a supervisor the CSOs of their unit, a CSO (officer) only
    themself; anyone else 403."""
    people = await five_ones_store.csos(session, officer_id=officer_id)
    if officer_id is not None:
        # Decided on the officer named, known or not, so the answer never tells a caller who
        # may not read it whether such a CSO exists.
        unit = people[0].unit if people else None
        if not can_read_officer(caller, officer_id, unit):
            raise forbidden(request, WHO)
    else:
        if not caller.has_any(Role.OPS, Role.SUPERVISOR, Role.OFFICER):
            raise forbidden(request, WHO)
        people = [p for p in people if can_read_officer(caller, p.officer_id, p.unit)]
        if not people and not caller.has_any(Role.OPS, Role.SUPERVISOR):
            # An officer who is no CSO has no five ones to read.
            raise forbidden(request, WHO)
    # After the access check: a caller who may not read the report learns nothing from it.
    try:
        wanted = Month.of(utcnow()) if month is None else Month.requested(month)
    except ValueError as exc:
        return validation_error("month", str(exc))
    facts = await five_ones_store.month_facts(session, people, wanted)
    items = [_out(s) for s in five_ones.statuses(facts)]
    if wants_csv(request):
        return csv_response(
            [_csv_row(wanted, i) for i in items], CSV_COLUMNS, f"five-ones-{wanted}.csv"
        )
    return FiveOnesReport(month=str(wanted), month_ends_on=wanted.last_day, items=items)
