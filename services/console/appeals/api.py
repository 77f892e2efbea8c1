"""GET /appeals/{id}: the appeal page (tracking's view, dispatch's routing trace, notify's log
where the person may read them); POST /appeals/{id}/{step}: an officer's step, through
tracking's route for it. A refused step shows the service's reason beside the form, with what
was typed still in it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.console.appeals.service import CONTACT_METHODS, RETURN_REASONS, STEPS, step_body
from services.console.backend import Backend, Refused
from services.console.pages import problem_page, render
from services.console.signin.api import CurrentPerson, FormPerson, backend_of
from services.console.signin.service import Person

router = APIRouter(include_in_schema=False)


async def _optional(backend: Backend, service: str, path: str, token: str, **params: Any) -> Any:
    """What the person may read besides the appeal; a refusal leaves that part out."""
    try:
        return await backend.get(service, path, token, **params)
    except Refused:
        return None


async def _page(
    request: Request,
    person: Person,
    appeal_id: UUID,
    *,
    problem: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    backend = backend_of(request)
    try:
        appeal = await backend.get("tracking", f"/v1/appeals/{appeal_id}", person.token)
    except Refused as refused:
        return problem_page(
            request, "appeal_refused", refused.status, person=person, detail=refused.message
        )
    routing = await _optional(backend, "dispatch", f"/v1/appeals/{appeal_id}/routing", person.token)
    notifications = await _optional(
        backend, "notify", "/v1/notifications", person.token, appeal_id=str(appeal_id)
    )
    context = {
        "person": person,
        "appeal": appeal,
        "routing": routing,
        "notifications": (notifications or {}).get("items"),
        "problem": problem or {},
        "typed": typed or {},
        "contact_methods": CONTACT_METHODS,
        "return_reasons": RETURN_REASONS,
    }
    return render(request, "appeal.html", context, status_code=status_code)


@router.get("/appeals/{appeal_id}")
async def appeal_page(request: Request, appeal_id: UUID, person: CurrentPerson) -> Response:
    return await _page(request, person, appeal_id)


@router.post("/appeals/{appeal_id}/{step_name}")
async def take_step(
    request: Request, appeal_id: UUID, step_name: str, person: FormPerson
) -> Response:
    step = STEPS.get(step_name)
    if step is None:
        return problem_page(request, "unknown_step", 404, person=person)
    form = await request.form()
    typed = {field: str(form.get(field, "")) for field in step.fields}
    try:
        await backend_of(request).post(
            "tracking", f"/v1/appeals/{appeal_id}/{step.name}", person.token, step_body(step, typed)
        )
    except Refused as refused:
        return await _page(
            request,
            person,
            appeal_id,
            problem={"step": step.name, "message": refused.message, **refused.fields},
            typed={"step": step.name, **typed},
            status_code=refused.status,
        )
    return RedirectResponse(f"/appeals/{appeal_id}?done={step.name}", status_code=303)
