"""GET /directory: dispatch's officers (filtered, a page at a time) with their on-duty flag,
capacity and leave edited in place (POST /directory/officers/{id}, through dispatch's
`PATCH /v1/officers/{id}`), the duty posts handed over (POST /directory/duty/{post}, through
`PUT /v1/duty/{post}`), and a roster imported from a file (POST /directory/roster, through
`POST /v1/directory/roster`) with dispatch's per-row report on the page. Only the roles dispatch
lets change the directory see the controls; a refused change shows dispatch's reason in place,
with what was typed still in the form. With htmx a row or the report is swapped; without it the
forms post and come back to the row."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from services.console.backend import Refused
from services.console.directory.service import (
    DUTY_POSTS,
    ROSTER_MAX_BYTES,
    DirectoryFilters,
    DutyPost,
    LeaveUnreadable,
    Officer,
    OfficerEdit,
    RosterResult,
    directory_view,
    edit_of,
    may_edit,
    officer_patch,
    problem_field,
)
from services.console.pages import problem_page, render
from services.console.signin.api import CurrentPerson, FormPerson, backend_of
from services.console.signin.service import Person

router = APIRouter(include_in_schema=False)


def _filters_of(back: str) -> DirectoryFilters:
    """The list's filters a form was sent from (its `back` field), or none if they are not."""
    try:
        return DirectoryFilters.model_validate(dict(parse_qsl(back)))
    except ValidationError:
        return DirectoryFilters()


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


async def _page(
    request: Request,
    person: Person,
    filters: DirectoryFilters,
    *,
    problem: dict[str, str] | None = None,
    typed: OfficerEdit | None = None,
    report: RosterResult | None = None,
    status_code: int = 200,
) -> Response:
    backend = backend_of(request)
    officers = [
        Officer.model_validate(o)
        for o in await backend.all_pages("dispatch", "/v1/officers", person.token)
    ]
    duty = [
        DutyPost.model_validate(d)
        for d in (await backend.get("dispatch", "/v1/duty", person.token))["items"]
    ]
    context = {
        "person": person,
        "editable": may_edit(person),
        "filters": filters,
        "back": filters.query(),
        "view": directory_view(officers, duty, filters),
        "problem": problem or {},
        "typed": typed,
        "report": report,
        "saved": request.query_params.get("saved", ""),
        "roster_max_bytes": ROSTER_MAX_BYTES,
    }
    return render(request, "directory.html", context, status_code=status_code)


def _row(
    request: Request,
    person: Person,
    officer: Officer,
    back: str,
    *,
    problem: dict[str, str] | None = None,
    typed: OfficerEdit | None = None,
    saved: str = "",
) -> Response:
    context = {
        "person": person,
        "editable": may_edit(person),
        "back": back,
        "officer": officer,
        "problem": problem or {},
        "typed": typed,
        "saved": saved,
    }
    return render(request, "directory_row.html", context)


def _back_to(back: str, anchor: str, **changes: str) -> RedirectResponse:
    query = _filters_of(back).query()
    extra = "&".join(f"{k}={quote(v, safe='')}" for k, v in changes.items())
    joined = "&".join(q for q in (query, extra) if q)
    return RedirectResponse(f"/directory?{joined}#{anchor}", status_code=303)


@router.get("/directory")
async def directory_page(
    request: Request, person: CurrentPerson, filters: Annotated[DirectoryFilters, Query()]
) -> Response:
    return await _page(request, person, filters)


@router.post("/directory/officers/{officer_id}")
async def edit_officer(request: Request, officer_id: str, person: FormPerson) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    back = values.get("back", "")
    edit = edit_of(values)
    backend = backend_of(request)
    path = "/v1/officers/" + quote(officer_id, safe="")
    try:
        body = officer_patch(edit)
        changed = Officer.model_validate(await backend.patch("dispatch", path, person.token, body))
    except (Refused, LeaveUnreadable) as refusal:
        if isinstance(refusal, LeaveUnreadable):
            problem = {"officer_id": officer_id, "field": "leave", "leave_item": refusal.item}
            status = 422
        else:
            field = problem_field(refusal.fields) or ""
            problem = {"officer_id": officer_id, "field": field, "message": refusal.message}
            status = refusal.status
        if _is_htmx(request):
            try:
                current = Officer.model_validate(await backend.get("dispatch", path, person.token))
            except Refused:
                # The officer left the directory meanwhile: the page, read afresh, says so.
                return Response(status_code=200, headers={"HX-Refresh": "true"})
            # htmx 2 swaps only 2xx answers: the refused row comes back 200, its alert saying
            # why (the form's status is dispatch's refusal, shown in the row).
            return _row(request, person, current, back, problem=problem, typed=edit)
        filters = _filters_of(back)
        return await _page(
            request, person, filters, problem=problem, typed=edit, status_code=status
        )
    if _is_htmx(request):
        return _row(request, person, changed, back, saved=officer_id)
    return _back_to(back, f"officer-{officer_id}", saved=officer_id)


@router.post("/directory/duty/{post}")
async def hand_duty(request: Request, post: str, person: FormPerson) -> Response:
    form = await request.form()
    officer_id, back = str(form.get("officer_id", "")), str(form.get("back", ""))
    if post not in DUTY_POSTS:
        return problem_page(request, "unknown_step", 404, person=person)
    try:
        await backend_of(request).put(
            "dispatch", f"/v1/duty/{post}", person.token, {"officer_id": officer_id}
        )
    except Refused as refused:
        problem = {"post": post, "message": refused.message, "holder": officer_id}
        return await _page(
            request, person, _filters_of(back), problem=problem, status_code=refused.status
        )
    return _back_to(back, f"duty-{post}", saved=f"duty-{post}")


@router.post("/directory/roster")
async def import_roster(request: Request, person: FormPerson) -> Response:
    form = await request.form()
    back = str(form.get("back", ""))
    filters = _filters_of(back)
    upload = form.get("file")
    options = {
        "strict": "true" if form.get("strict") == "on" else "false",
        "dry_run": "true" if form.get("dry_run") == "on" else "false",
    }
    if not isinstance(upload, UploadFile) or not upload.filename:
        problem = {"roster": "no_file"}
        return await _page(request, person, filters, problem=problem, status_code=422)
    data = await upload.read()
    files = {"file": (upload.filename, data, upload.content_type or "application/octet-stream")}
    try:
        answer: dict[str, Any] = await backend_of(request).upload(
            "dispatch", "/v1/directory/roster", person.token, files, **options
        )
    except Refused as refused:
        problem = {"roster": "refused", "message": refused.message}
        return await _page(request, person, filters, problem=problem, status_code=refused.status)
    report = RosterResult.model_validate(answer)
    return await _page(request, person, filters, report=report)
