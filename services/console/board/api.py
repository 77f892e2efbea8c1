"""GET /returns: the returns (退单) awaiting the duty dispatcher's ruling, with the officers'
names, each ruled in place (POST /returns/{appeal_id}/ruling, through dispatch's
`POST /v1/appeals/{id}/return-decision`). A refused ruling shows dispatch's reason beside its
form, with the note still in it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.console.backend import Refused
from services.console.pages import problem_page, render
from services.console.signin.api import CurrentPerson, FormPerson, backend_of
from services.console.signin.service import Person

router = APIRouter(include_in_schema=False)

DECISIONS = ("accept", "reject")


async def _page(
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
        "decisions": DECISIONS,
        "problem": problem or {},
        "typed": typed or {},
    }
    return render(request, "returns.html", context, status_code=status_code)


@router.get("/returns")
async def returns_page(request: Request, person: CurrentPerson) -> Response:
    return await _page(request, person)


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
        return await _page(
            request,
            person,
            problem={"appeal_id": str(appeal_id), "message": refused.message},
            typed={"appeal_id": str(appeal_id), "note": note},
            status_code=refused.status,
        )
    return RedirectResponse(f"/returns?ruled={appeal_id}", status_code=303)
