"""POST /views: keeps the filters on the page as a named view (the page lists them); POST
/views/{id}/delete forgets one. A refused name comes back on a page that says why, with what was
typed still in the form."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from services.console.pages import render
from services.console.signin.api import FormPerson
from services.console.signin.service import Person
from services.console.views import store
from services.console.views.service import ViewIn

router = APIRouter(include_in_schema=False)


async def views_of(request: Request, person: Person, page: str) -> list[dict[str, str]]:
    """The person's views of a page, as its template lists them."""
    async with request.app.state.runtime.db.sessions() as session:
        views = await store.of(session, person.subject, page)
    return [{"view_id": str(v.view_id), "name": v.name, "href": v.href} for v in views]


def _refused(request: Request, person: Person, typed: dict[str, str], reason: str) -> Response:
    """`reason`: the field refused (`name`, `page`, `query`) or `full` (too many views)."""
    context = {"person": person, "typed": typed, "reason": reason, "most": store.MOST_PER_PAGE}
    return render(request, "view_refused.html", context, status_code=422)


@router.post("/views")
async def save_view(request: Request, person: FormPerson) -> Response:
    form = await request.form()
    typed = {k: str(form.get(k, "")) for k in ("name", "page", "query")}
    try:
        view = ViewIn.model_validate(typed)
    except ValidationError as invalid:
        return _refused(request, person, typed, str(invalid.errors()[0]["loc"][0]))
    async with request.app.state.runtime.db.transaction() as session:
        kept = {v.name for v in await store.of(session, person.subject, view.page)}
        if view.name not in kept and len(kept) >= store.MOST_PER_PAGE:
            return _refused(request, person, typed, "full")
        await store.save(session, person.subject, view)
    target = f"{view.page}?{view.query}" if view.query else view.page
    return RedirectResponse(target, status_code=303)


@router.post("/views/{view_id}/delete")
async def delete_view(request: Request, view_id: int, person: FormPerson) -> Response:
    async with request.app.state.runtime.db.transaction() as session:
        page = await store.forget(session, person.subject, view_id)
    return RedirectResponse(page or "/queue", status_code=303)
