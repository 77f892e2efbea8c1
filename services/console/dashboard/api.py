"""GET /dashboard: the rates by month, the volume by channel, category and community, officers
and units ranked by the composite rate, and the chief service officers' five ones, over the
months chosen on the page. Everything comes from tracking's reports (`GET /v1/reports/rates`,
one per grouping; `GET /v1/reports/five-ones`) and dispatch's directory for the names, read as
the signed-in person: tracking decides whose appeals they see."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.backend import Backend, Refused
from services.console.dashboard.service import (
    GROUPINGS,
    UNASSIGNED,
    Dashboard,
    FiveOnesIn,
    Period,
    PeriodProblem,
    RatesReportIn,
    chart_data,
    dashboard,
    parse_period,
    percent,
    presets,
)
from services.console.pages import ZONE, gettext_for, problem_page, render
from services.console.signin.api import CurrentPerson, backend_of
from services.console.signin.service import Person
from shared.clock import utcnow
from shared.identity import Role

router = APIRouter(include_in_schema=False)


async def _rates(backend: Backend, token: str, period: Period, group_by: str) -> RatesReportIn:
    body = await backend.get(
        "tracking", "/v1/reports/rates", token, group_by=group_by, **period.query
    )
    return RatesReportIn.model_validate(body)


async def _five_ones(backend: Backend, token: str, period: Period) -> FiveOnesIn | None:
    """The period's last month; None when the person may not read the five ones (a dispatcher)."""
    try:
        body = await backend.get("tracking", "/v1/reports/five-ones", token, month=str(period.last))
    except Refused:
        return None
    return FiveOnesIn.model_validate(body)


async def _officers(backend: Backend, person: Person, wanted: set[str]) -> dict[str, Any]:
    """The directory's officers the page names, by id: a supervisor's or dispatcher's unit in
    one list (tracking shows them their unit's officers), then any other one by itself."""
    unit = None if person.has_any(Role.OPS) else person.unit
    listed = await backend.all_pages("dispatch", "/v1/officers", person.token, unit=unit)
    found: dict[str, Any] = {o["officer_id"]: o for o in listed}
    for officer_id in sorted(wanted - set(found) - {UNASSIGNED}):
        try:
            found[officer_id] = await backend.get(
                "dispatch", f"/v1/officers/{officer_id}", person.token
            )
        except Refused:  # no longer in the directory: the page shows the id tracking kept
            continue
    return found


async def _dashboard(request: Request, person: Person, period: Period) -> Dashboard:
    backend = backend_of(request)
    token = person.token
    rates = asyncio.gather(*(_rates(backend, token, period, g) for g in GROUPINGS))
    reports, five_ones_report, departments = await asyncio.gather(
        rates,
        _five_ones(backend, token, period),
        backend.all_pages("dispatch", "/v1/departments", token),
    )
    by_grouping = dict(zip(GROUPINGS, reports, strict=True))
    wanted = {row.group for row in by_grouping["officer"].rows if row.group}
    officers = await _officers(backend, person, wanted)
    return dashboard(
        period,
        by_grouping,
        officer_names={i: o["name"] for i, o in officers.items()},
        officer_units={i: o["unit"] for i, o in officers.items()},
        unit_names={d["department_id"]: d["name"] for d in departments},
        five_ones_report=five_ones_report,
    )


@router.get("/dashboard")
async def dashboard_page(request: Request, person: CurrentPerson) -> Response:
    query = request.query_params
    typed = {name: query.get(name, "") for name in ("from", "to", "preset")}
    today = utcnow().astimezone(ZONE).date()
    context: dict[str, Any] = {
        "person": person,
        "typed": typed,
        "presets": presets(today),
        "percent": percent,
        "problem": None,
        "view": None,
    }
    try:
        period = parse_period(typed["from"], typed["to"], typed["preset"], today)
    except PeriodProblem as problem:
        context["problem"] = problem
        return render(request, "dashboard.html", context, status_code=422)
    try:
        view = await _dashboard(request, person, period)
    except Refused as refused:
        return problem_page(
            request, "not_yours", refused.status, person=person, detail=refused.message
        )
    context.update(
        view=view,
        period=period,
        charts=chart_data(view.charts, gettext_for(request)),
    )
    return render(request, "dashboard.html", context)
