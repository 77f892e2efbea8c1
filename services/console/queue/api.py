"""GET /queue: the signed-in officer's queue, through tracking's `GET /v1/me/queue`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.console.pages import render
from services.console.queue.service import QueueFilters, queue_view
from services.console.signin.api import CurrentPerson, backend_of
from services.console.views.api import views_of

router = APIRouter(include_in_schema=False)


@router.get("/queue")
async def queue_page(
    request: Request, person: CurrentPerson, filters: Annotated[QueueFilters, Query()]
) -> Response:
    items = await backend_of(request).all_pages("tracking", "/v1/me/queue", person.token)
    view = queue_view(items, filters)
    if request.headers.get("HX-Request"):
        return render(request, "queue_rows.html", {"person": person, "view": view})
    context = {
        "person": person,
        "view": view,
        "filters": filters,
        "views": await views_of(request, person, "/queue"),
        "view_page": "/queue",
        "view_query": request.url.query,
    }
    return render(request, "queue.html", context)
