"""GET /live: server-sent events for the signed-in person's open page. Each replica looks for
new notices every `console_live_poll_s`; a page that reconnects (the browser does so by itself
when a replica stops) sends `Last-Event-ID` and gets what came after it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from services.console.live import store
from services.console.pages import gettext_for
from services.console.signin.api import CurrentPerson, settings_of
from services.console.signin.service import Person
from shared.clock import utcnow

router = APIRouter(include_in_schema=False)

KEEPALIVE_S = 15.0
RETRY_MS = 2000  # how soon the browser reconnects after the stream ends
KEPT_FOR = timedelta(days=1)


def _last_id(request: Request) -> int | None:
    given = request.headers.get("Last-Event-ID", "")
    return int(given) if given.isdigit() else None


async def _stream(request: Request, person: Person) -> AsyncIterator[str]:
    db = request.app.state.runtime.db
    poll_s = settings_of(request).console_live_poll_s
    words = gettext_for(request)
    unit = person.unit if person.oversees else None
    last = _last_id(request)
    if last is None:
        async with db.sessions() as session:
            last = await store.latest_id(session)
    yield f"retry: {RETRY_MS}\n: connected\n\n"
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        if utcnow() >= person.expires_at:
            yield "event: signed-out\ndata: {}\n\n"
            return
        async with db.sessions() as session:
            notices = await store.after(session, last, person.subject, unit)
        for notice in notices:
            last = notice["id"]
            data = {
                "kind": notice["kind"],
                "text": words(notice["kind"]),
                "appeal_id": notice["appeal_id"],
                "tracking_code": notice["tracking_code"],
                "detail": notice["detail"],
                "href": f"/appeals/{notice['appeal_id']}",
            }
            yield f"id: {last}\nevent: notice\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            quiet_since = time.monotonic()
        if time.monotonic() - quiet_since >= KEEPALIVE_S:
            yield ": keepalive\n\n"
            quiet_since = time.monotonic()
        await asyncio.sleep(poll_s)


@router.get("/live")
async def live(request: Request, person: CurrentPerson) -> StreamingResponse:
    return StreamingResponse(
        _stream(request, person),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


class NoticePruner:
    """Notices older than a day are of no use to any page: each replica clears them now and
    then (deleting what another replica deleted already is harmless)."""

    def __init__(self, db: object, every_s: float = 3600.0) -> None:
        self.db = db
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                async with self.db.transaction() as session:  # type: ignore[attr-defined]
                    await store.prune(session, utcnow() - KEPT_FOR)
            except Exception:
                pass
            await asyncio.sleep(self.every_s)
