"""The supervisors' and dispatchers' pages: the unit board and the returns awaiting a ruling.

GET /board: the unit's open appeals counted (open, due soon, overdue, urged, escalated: one
count over all of them, from tracking's `GET /v1/appeals/counts`), the officers' load and who is
on duty or away (dispatch's directory), the extension requests (tracking's `GET /v1/extensions`)
and returns (dispatch's `GET /v1/returns`) awaiting a ruling, each ruled in place, and a search
with every filter of tracking's `GET /v1/appeals`, one bounded page of it at a time with paging
links; on each appeal: reassign (to a chosen officer, or routed again), add an assisting
officer, mark unreasonable. GET /board.csv: the rows the page shows, as a file.

GET /returns: dispatch's pending returns (退单), each ruled in place.

A refused action shows the service's reason beside its form, with what was typed still in it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from services.console.backend import Backend, Refused
from services.console.board.service import (
    CHOICES,
    COLUMNS,
    DECISIONS,
    FLAGS,
    HEADLINE,
    PAGE_SIZES,
    RULINGS,
    BoardFilters,
    assistants_body,
    board_rows,
    csv_table,
    officer_loads,
    powers_of,
    reassign_body,
    unit_returns,
    with_names,
)
from services.console.pages import gettext_for, problem_page, render
from services.console.signin.api import CurrentPerson, FormPerson, backend_of
from services.console.signin.service import Person
from services.console.views.api import views_of
from shared.clock import utcnow
from shared.csv_export import csv_response
from shared.vocabulary import AppealStatus, Category, Channel

router = APIRouter(include_in_schema=False)

Filters = Annotated[BoardFilters, Query()]


# --- the board ---------------------------------------------------------------------------------


async def _search(
    backend: Backend, person: Person, filters: BoardFilters
) -> tuple[dict[str, Any], dict[str, Any] | None, str | None]:
    """One page of the search and how many match in all; or tracking's reason for refusing
    the filters (shown beside them, as typed)."""
    params = filters.search_params()
    try:
        page, counts = await asyncio.gather(
            backend.get(
                "tracking",
                "/v1/appeals",
                person.token,
                limit=filters.page_size,
                cursor=filters.cursor or None,
                **params,
            ),
            backend.get("tracking", "/v1/appeals/counts", person.token, **params),
        )
    except Refused as refused:
        return {"items": [], "next_cursor": None}, None, refused.message
    return page, counts, None


async def _officers(backend: Backend, person: Person, unit: str | None) -> list[dict[str, Any]]:
    return await backend.all_pages("dispatch", "/v1/officers", person.token, unit=unit)


def _results(
    request: Request,
    person: Person,
    filters: BoardFilters,
    page: dict[str, Any],
    matching: dict[str, Any] | None,
    names: dict[str, str],
) -> dict[str, Any]:
    rows = board_rows(page["items"], names, utcnow(), gettext_for(request))
    return {
        "person": person,
        "powers": powers_of(person.roles),
        "filters": filters,
        "rows": rows,
        "matching": matching,
        "next_cursor": page.get("next_cursor"),
        "columns": COLUMNS,
    }


async def _board(
    request: Request,
    person: Person,
    filters: BoardFilters,
    *,
    problem: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    backend = backend_of(request)
    unit = person.unit or filters.unit.strip() or None
    # Every read at once: the page waits for the slowest service call, not for their sum.
    try:
        (
            headline,
            returns,
            extensions,
            (page, matching, search_problem),
            officers,
        ) = await asyncio.gather(
            backend.get("tracking", "/v1/appeals/counts", person.token, open="true"),
            backend.all_pages("dispatch", "/v1/returns", person.token, limit=200, status="pending"),
            backend.all_pages(
                "tracking",
                "/v1/extensions",
                person.token,
                limit=200,
                status="pending",
                unit=unit,
            ),
            _search(backend, person, filters),
            _officers(backend, person, unit),
        )
    except Refused as refused:
        return problem_page(
            request, "not_yours", refused.status, person=person, detail=refused.message
        )
    names = {str(o["officer_id"]): str(o["name"]) for o in officers}
    unit_officers = set(names) if unit is not None else None
    context = {
        **_results(request, person, filters, page, matching, names),
        "search_problem": search_problem,
        "unit": headline.get("unit") or unit,
        "headline": headline,
        "headline_keys": HEADLINE,
        "officers": officer_loads(officers),
        "extensions": with_names(extensions, names),
        "returns": with_names(unit_returns(returns, unit_officers), names),
        "flags": FLAGS,
        "choices": CHOICES,
        "statuses": [s.value for s in AppealStatus],
        "categories": [c.value for c in Category],
        "channels": [c.value for c in Channel],
        "page_sizes": PAGE_SIZES,
        "decisions": DECISIONS,
        "rulings": RULINGS,
        "problem": problem or {},
        "typed": typed or {},
        "back": filters.query(),
        "views": await views_of(request, person, "/board"),
        "view_page": "/board",
        "view_query": filters.query(),
    }
    return render(request, "board.html", context, status_code=status_code)


@router.get("/board")
async def board_page(request: Request, person: CurrentPerson, filters: Filters) -> Response:
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "board-results":
        # The search alone changed: only its part of the page is made again.
        backend = backend_of(request)
        unit = person.unit or filters.unit.strip() or None
        (page, matching, search_problem), officers = await asyncio.gather(
            _search(backend, person, filters), _officers(backend, person, unit)
        )
        names = {str(o["officer_id"]): str(o["name"]) for o in officers}
        context = {
            **_results(request, person, filters, page, matching, names),
            "search_problem": search_problem,
            "problem": {},
            "typed": {},
            "back": filters.query(),
        }
        return render(request, "board_results.html", context)
    return await _board(request, person, filters)


@router.get("/board.csv")
async def board_csv(request: Request, person: CurrentPerson, filters: Filters) -> Response:
    """Exactly the rows the board shows for these filters (the same page), in its words."""
    backend = backend_of(request)
    unit = person.unit or filters.unit.strip() or None
    try:
        page, officers = await asyncio.gather(
            backend.get(
                "tracking",
                "/v1/appeals",
                person.token,
                limit=filters.page_size,
                cursor=filters.cursor or None,
                **filters.search_params(),
            ),
            _officers(backend, person, unit),
        )
    except Refused as refused:
        return problem_page(
            request, "not_yours", refused.status, person=person, detail=refused.message
        )
    words = gettext_for(request)
    names = {str(o["officer_id"]): str(o["name"]) for o in officers}
    header, *body = csv_table(board_rows(page["items"], names, utcnow(), words), words)
    filename = f"board-{utcnow():%Y%m%d-%H%M}.csv"
    return csv_response([dict(zip(header, row, strict=True)) for row in body], header, filename)


# --- the board's actions -------------------------------------------------------------------


async def _acted(
    request: Request,
    person: Person,
    key: str,
    typed: dict[str, str],
    call: Callable[[], Awaitable[str]],
) -> Response:
    """Runs the action; done, back to the board as it was (with what was done), refused, the
    board again with the service's reason beside the form and what was typed in it."""
    form = await request.form()
    filters = BoardFilters.from_query(str(form.get("back", "")))
    try:
        done = await call()
    except Refused as refused:
        return await _board(
            request,
            person,
            filters,
            problem={"key": key, "message": refused.message},
            typed={"key": key, **typed},
            status_code=refused.status,
        )
    return RedirectResponse(f"/board?{filters.query()}&{done}", status_code=303)


async def _field(request: Request, name: str) -> str:
    return str((await request.form()).get(name, ""))


@router.post("/board/appeals/{appeal_id}/reassign")
async def reassign(request: Request, appeal_id: UUID, person: FormPerson) -> Response:
    how, officer_id, note = (
        await _field(request, "how"),
        await _field(request, "officer_id"),
        await _field(request, "note"),
    )

    async def call() -> str:
        moved = await backend_of(request).post(
            "dispatch",
            f"/v1/appeals/{appeal_id}/reassign",
            person.token,
            reassign_body(how, officer_id, note),
        )
        return urlencode({"done": "reassigned", "moved_to": moved["officer_id"]})

    typed = {"officer_id": officer_id, "note": note}
    return await _acted(request, person, f"reassign:{appeal_id}", typed, call)


@router.post("/board/appeals/{appeal_id}/assistants")
async def add_assistant(request: Request, appeal_id: UUID, person: FormPerson) -> Response:
    officer_id = await _field(request, "officer_id")

    async def call() -> str:
        backend = backend_of(request)
        # Dispatch replaces the list: the current one is its own, read just before.
        current = await backend.get("dispatch", f"/v1/assignments/{appeal_id}", person.token)
        await backend.post(
            "dispatch",
            f"/v1/appeals/{appeal_id}/assistants",
            person.token,
            assistants_body(current.get("assistant_officer_ids") or (), officer_id),
        )
        return "done=assisted"

    typed = {"officer_id": officer_id}
    return await _acted(request, person, f"assistants:{appeal_id}", typed, call)


@router.post("/board/appeals/{appeal_id}/unreasonable")
async def mark_unreasonable(request: Request, appeal_id: UUID, person: FormPerson) -> Response:
    reason = await _field(request, "reason")

    async def call() -> str:
        await backend_of(request).post(
            "tracking", f"/v1/appeals/{appeal_id}/unreasonable", person.token, {"reason": reason}
        )
        return "done=unreasonable"

    return await _acted(request, person, f"unreasonable:{appeal_id}", {"reason": reason}, call)


@router.post("/board/extensions/{appeal_id}/decision")
async def rule_on_extension(request: Request, appeal_id: UUID, person: FormPerson) -> Response:
    decision, note = await _field(request, "decision"), await _field(request, "note")

    async def call() -> str:
        await backend_of(request).post(
            "tracking",
            f"/v1/appeals/{appeal_id}/extension-decision",
            person.token,
            {"decision": decision, "note": note},
        )
        return f"done=extension_{decision}"

    return await _acted(request, person, f"extension:{appeal_id}", {"note": note}, call)


@router.post("/board/returns/{appeal_id}/ruling")
async def rule_on_return_on_the_board(
    request: Request, appeal_id: UUID, person: FormPerson
) -> Response:
    decision, note = await _field(request, "decision"), await _field(request, "note")

    async def call() -> str:
        await backend_of(request).post(
            "dispatch",
            f"/v1/appeals/{appeal_id}/return-decision",
            person.token,
            {"decision": decision, "note": note},
        )
        return f"done=return_{decision}"

    return await _acted(request, person, f"return:{appeal_id}", {"note": note}, call)


# --- the returns page ----------------------------------------------------------------------


async def _returns_page(
    request: Request,
    person: Person,
    *,
    problem: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    backend = backend_of(request)
    try:
        returns = await backend.all_pages(
            "dispatch", "/v1/returns", person.token, limit=200, status="pending"
        )
    except Refused as refused:
        return problem_page(
            request, "not_yours", refused.status, person=person, detail=refused.message
        )
    officers = await backend.all_pages("dispatch", "/v1/officers", person.token)
    names: dict[str, Any] = {o["officer_id"]: o["name"] for o in officers}
    context = {
        "person": person,
        "returns": [
            {**r, "officer_name": names.get(r["officer_id"], r["officer_id"])} for r in returns
        ],
        "decisions": RULINGS,
        "problem": problem or {},
        "typed": typed or {},
    }
    return render(request, "returns.html", context, status_code=status_code)


@router.get("/returns")
async def returns_page(request: Request, person: CurrentPerson) -> Response:
    return await _returns_page(request, person)


@router.post("/returns/{appeal_id}/ruling")
async def rule_on_return(request: Request, appeal_id: UUID, person: FormPerson) -> Response:
    form = await request.form()
    decision, note = str(form.get("decision", "")), str(form.get("note", ""))
    try:
        await backend_of(request).post(
            "dispatch",
            f"/v1/appeals/{appeal_id}/return-decision",
            person.token,
            {"decision": decision, "note": note},
        )
    except Refused as refused:
        return await _returns_page(
            request,
            person,
            problem={"appeal_id": str(appeal_id), "message": refused.message},
            typed={"appeal_id": str(appeal_id), "note": note},
            status_code=refused.status,
        )
    return RedirectResponse(f"/returns?ruled={appeal_id}", status_code=303)
