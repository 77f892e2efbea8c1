"""Reports: the three rates (三率) over a date range, whole or by officer, unit, channel, category,
community or month (JSON, or CSV with `Accept: text/csv`); and the monthly proposal of four chief
service officers to report to the zone's party committee (五个一), with the record of who
reported. Definitions are in rates.py."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking.periods import Day, Month, MonthText, day_range
from services.tracking.reports import store as reports_store
from services.tracking.reports.cso_reporters import Proposal, proposal_for, propose
from services.tracking.reports.rates import (
    GROUP_KEYS,
    GroupBy,
    Rates,
    compute,
    month_of,
    month_range,
    parse_counted,
    previous_month,
    reported_in_cycle,
)
from services.tracking.reports.rates import group as group_rates
from shared.clock import utcnow
from shared.csv_export import csv_response, wants_csv
from shared.http import SnapshotSessionDep, UnitsDep
from shared.identity import FORBIDDEN, Principal, Role, authenticated, forbidden, require_roles

router = APIRouter(prefix="/v1", tags=["reports"])

RATE_DIGITS = 4
HOURS_DIGITS = 2
RECORDED_BY_CHARS = 100  # cso_reports.recorded_by's width
# Roles that read the rates of their own unit only (ops read everything).
UNIT_READERS = (Role.SUPERVISOR, Role.DISPATCHER)

Caller = Annotated[Principal, Depends(authenticated())]
Overseer = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.OPS))]


def _rate(value: Any) -> float | None:
    return None if value is None else round(float(value), RATE_DIGITS)


class RatesRow(BaseModel):
    """One group's figures; each rate with its numerator and denominator (null: nothing to
    divide by)."""

    group: str | None
    total: int
    excluded_unreasonable: int
    response_rate: float | None
    response_numerator: int
    response_denominator: int
    resolution_rate: float | None
    resolution_numerator: int
    resolution_denominator: int
    satisfaction_rate: float | None
    satisfaction_numerator: int
    satisfaction_denominator: int
    on_time_rate: float | None
    on_time_numerator: int
    on_time_denominator: int
    composite_rate: float | None
    median_handling_hours: float | None
    open: int
    overdue: int
    no_feedback: int

    @classmethod
    def of(cls, name: str | None, r: Rates) -> RatesRow:
        hours = r.median_handling_hours
        return cls(
            group=name,
            total=r.total,
            excluded_unreasonable=r.excluded_unreasonable,
            response_rate=_rate(r.response.value),
            response_numerator=r.response.numerator,
            response_denominator=r.response.denominator,
            resolution_rate=_rate(r.resolution.value),
            resolution_numerator=r.resolution.numerator,
            resolution_denominator=r.resolution.denominator,
            satisfaction_rate=_rate(r.satisfaction.value),
            satisfaction_numerator=r.satisfaction.numerator,
            satisfaction_denominator=r.satisfaction.denominator,
            on_time_rate=_rate(r.on_time.value),
            on_time_numerator=r.on_time.numerator,
            on_time_denominator=r.on_time.denominator,
            composite_rate=_rate(r.composite),
            median_handling_hours=None if hours is None else round(hours, HOURS_DIGITS),
            open=r.open,
            overdue=r.overdue,
            no_feedback=r.no_feedback,
        )


CSV_COLUMNS = list(RatesRow.model_fields)


class RatesReport(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    group_by: GroupBy | None
    # Whose appeals: null for everything (ops), else the caller's unit.
    unit: str | None
    rows: list[RatesRow]
    overall: RatesRow


def _invalid(location: str, field: str, msg: str) -> HTTPException:
    # The shape FastAPI gives its own 422s, so clients read one format.
    return HTTPException(
        422, detail=[{"loc": [location, field], "msg": msg, "type": "value_error"}]
    )


def _unit_scope(caller: Principal, request: Request) -> str | None:
    """None: every appeal (ops); otherwise the unit whose officers' appeals the caller reads."""
    if Role.OPS in caller.roles:
        return None
    if not caller.has_any(*UNIT_READERS):
        raise forbidden(request, "only ops, and supervisors or dispatchers for their unit")
    if caller.unit is None:
        raise forbidden(request, "the sign-in token names no unit to report on")
    return caller.unit


def _counted(request: Request) -> frozenset[str]:
    return parse_counted(request.app.state.runtime.settings.satisfaction_counts)


@router.get(
    "/reports/rates",
    response_model=RatesReport,
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV on request"},
        403: FORBIDDEN,
    },
)
async def rates_report(
    request: Request,
    caller: Caller,
    session: SnapshotSessionDep,
    from_: Annotated[
        Day | None,
        Query(alias="from", description="First day (Asia/Shanghai); the month's 1st if absent"),
    ] = None,
    to: Annotated[
        Day | None,
        Query(description="Last day, included (Asia/Shanghai); the month's last if absent"),
    ] = None,
    group_by: GroupBy | None = None,
) -> Any:
    """The three rates and the figures beside them over appeals received from `from` to `to`
    (both included; without them, the current month), unreasonable ones left out and counted.
    Ops read every appeal; supervisors and dispatchers those whose officer is in their unit.
    `Accept: text/csv` gives the rows as CSV."""
    this_month = Month.of(utcnow())
    if from_ is None:
        from_ = this_month.first_day if to is None else to.replace(day=1)
    if to is None:
        to = Month.of(from_).last_day
    if from_ > to:
        raise _invalid("query", "from", "`from` must not be after `to`")
    unit = _unit_scope(caller, request)
    start, end = day_range(from_, to)
    facts = await reports_store.fetch_facts(session, start, end, unit=unit)
    now = utcnow()
    counted = _counted(request)
    overall = RatesRow.of(None, compute(facts, now, counted))
    if group_by is None:
        rows = [overall]
    else:
        grouped = group_rates(facts, GROUP_KEYS[group_by], now, counted)
        rows = [RatesRow.of(name, rates) for name, rates in grouped.items()]
    if wants_csv(request):
        filename = f"rates_{from_}_{to}" + (f"_by_{group_by}" if group_by else "") + ".csv"
        return csv_response([r.model_dump() for r in rows], CSV_COLUMNS, filename)
    return RatesReport(from_=from_, to=to, group_by=group_by, unit=unit, rows=rows, overall=overall)


# --- the CSO proposal ------------------------------------------------------------------------


class CsoStanding(BaseModel):
    officer_id: str
    name: str | None  # None: no longer a CSO in tracking's copy of the directory
    unit: str | None
    reported: bool  # recorded as having reported in this month
    # Over the appeals they lead received in the basis month, as of now.
    appeals: int
    composite_rate: float | None
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None


class CsoProposalOut(BaseModel):
    month: str
    basis_month: str  # whose appeals ranked them: the previous calendar month
    # Stored: fixed for the month. False: provisional (the month has not begun), not stored.
    stored: bool
    proposed_at: datetime | None
    officers: list[CsoStanding]
    # CSOs who had reported in the cycle under way before this month.
    reported_in_cycle: list[str]


class ReportRecorded(BaseModel):
    officer_id: str = Field(min_length=1, max_length=64)


class ReportOut(BaseModel):
    officer_id: str
    month: str
    recorded_by: str
    recorded_at: datetime


MonthQuery = Annotated[
    MonthText | None, Query(description="YYYY-MM (Shanghai); the current month if absent")
]
MonthPath = Annotated[MonthText, Path(description="YYYY-MM (Shanghai)")]


@router.get("/reports/cso-reporters")
async def cso_reporters(
    request: Request, caller: Overseer, session: SnapshotSessionDep, month: MonthQuery = None
) -> CsoProposalOut:
    """The four CSOs proposed to report to the party committee in `month`: those not yet
    reported this cycle, lowest composite rate (over the previous month) first. Once stored
    (when the month begins, or on `POST`) it stays the same four (the figures beside them are
    as of now); before, `stored` is false and the four are what it would be now. Supervisors
    and ops. Reading never stores anything."""
    wanted = month or str(Month.of(utcnow()))
    proposal = await proposal_for(session, wanted, now=utcnow(), counted=_counted(request))
    return await _proposal_out(session, proposal)


@router.post("/reports/cso-reporters/{month}")
async def propose_cso_reporters(
    request: Request, caller: Overseer, units: UnitsDep, month: MonthPath
) -> CsoProposalOut:
    """Stores and announces the month's proposal now (the worker does it when the month
    begins); a stored one stays as it is. 422 for a month not begun yet. Supervisors and ops."""
    now = utcnow()
    if month_range(month)[0] > now:
        raise _invalid("path", "month", "a month that has not begun cannot be proposed for yet")
    async with units.begin() as uow:
        proposal = await propose(uow, month, now=now, counted=_counted(request))
        return await _proposal_out(uow.session, proposal)


async def _proposal_out(session: AsyncSession, proposal: Proposal) -> CsoProposalOut:
    month = proposal.month
    reported = await reports_store.reported_in(session, month)
    before = reported_in_cycle(proposal.csos, await reports_store.reports_before(session, month))
    standings = []
    for officer_id in proposal.officer_ids:
        rates = proposal.standings[officer_id]
        officer = proposal.csos.get(officer_id)
        standings.append(
            CsoStanding(
                officer_id=officer_id,
                name=officer.name if officer else None,
                unit=officer.unit if officer else None,
                reported=officer_id in reported,
                appeals=rates.total,
                composite_rate=_rate(rates.composite),
                response_rate=_rate(rates.response.value),
                resolution_rate=_rate(rates.resolution.value),
                satisfaction_rate=_rate(rates.satisfaction.value),
            )
        )
    return CsoProposalOut(
        month=month,
        basis_month=previous_month(month),
        stored=proposal.stored,
        proposed_at=proposal.proposed_at,
        officers=standings,
        reported_in_cycle=sorted(before),
    )


@router.post("/reports/cso-reporters/{month}/reported")
async def record_reported(
    caller: Overseer,
    units: UnitsDep,
    month: MonthPath,
    body: ReportRecorded,
) -> ReportOut:
    """Records that a CSO reported to the party committee in `month`. Recording it again
    changes nothing (the first record stays). 422 for an officer tracking does not know as a
    CSO, or a month still to come. Supervisors and ops."""
    now = utcnow()
    if month > month_of(now):
        raise _invalid("path", "month", "a report cannot be recorded for a month to come")
    async with units.begin() as uow:
        session = uow.session
        if not await reports_store.is_cso(session, body.officer_id):
            raise _invalid("body", "officer_id", "not a chief service officer known to tracking")
        row = await reports_store.record_report(
            session,
            officer_id=body.officer_id,
            month=month,
            recorded_by=caller.sub[:RECORDED_BY_CHARS],
            at=now,
        )
    return ReportOut.model_validate(dict(row._mapping))
