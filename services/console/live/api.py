"""GET /live: server-sent events for the signed-in person's open page, fed by the replica's
`LiveFeed` (feed.py), which looks for new notices every `console_live_poll_s`; a page that
reconnects (the browser does so by itself when a replica stops) sends `Last-Event-ID` and gets
what came after it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from services.console.live import store
from services.console.live.feed import LiveFeed
from services.console.pages import gettext_for
from services.console.signin.api import CurrentPerson
from services.console.signin.service import Person
from shared.clock import utcnow

router = APIRouter(include_in_schema=False)

KEEPALIVE_S = 15.0
# How often a quiet stream looks whether its browser went away (the server may not say).
LOOK_AGAIN_S = 1.0
RETRY_MS = 2000  # how soon the browser reconnects after the stream ends
SENT_KEPT = 2000


class SentNotices:
    """What one stream has sent: a notice that committed late (the feed found it in a gap, after
    later ones) is sent once, and nothing twice; `last` is the highest id sent, the event id the
    browser resumes after."""

    def __init__(self, last: int) -> None:
        self.last = last
        self.ids: set[int] = set()

    def first_time(self, notice_id: int) -> bool:
        if notice_id in self.ids:
            return False
        self.ids.add(notice_id)
        self.last = max(self.last, notice_id)
        if len(self.ids) > SENT_KEPT:
            # Only the recent can come again (the feed hands each id out once; a late one is
            # at most a few seconds late).
            self.ids = {i for i in self.ids if i > self.last - SENT_KEPT // 2}
        return True


def _last_id(request: Request) -> int | None:
    given = request.headers.get("Last-Event-ID", "")
    return int(given) if given.isdigit() else None


def _event(notice: dict[str, Any], words: Callable[[str], str], last: int) -> str:
    data = {
        "kind": notice["kind"],
        "text": words(notice["kind"]),
        "appeal_id": notice["appeal_id"],
        "tracking_code": notice["tracking_code"],
        "detail": notice["detail"],
        "href": f"/appeals/{notice['appeal_id']}",
    }
    # The event's id is the highest sent so far (a late notice's own id is lower): the browser
    # resumes after it.
    return f"id: {last}\nevent: notice\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _stream(request: Request, person: Person) -> AsyncIterator[str]:
    db = request.app.state.runtime.db
    feed: LiveFeed = request.app.state.live_feed
    words = gettext_for(request)
    unit = person.unit if person.oversees else None
    last = _last_id(request)
    if last is None:
        async with db.sessions() as session:
            last = await store.latest_id(session)
    # Subscribed first, then what came before read once: nothing falls between the two.
    page = feed.open(person.subject, unit, since=last)
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        async with db.sessions() as session:
            missed = await store.after(session, last, person.subject, unit)
        sent = SentNotices(last)
        for notice in missed:
            if sent.first_time(notice["id"]):
                yield _event(notice, words, sent.last)
        quiet_since = time.monotonic()
        while not await request.is_disconnected():
            if utcnow() >= person.expires_at:
                yield "event: signed-out\ndata: {}\n\n"
                return
            try:
                notice = await asyncio.wait_for(page.notices.get(), LOOK_AGAIN_S)
            except TimeoutError:
                if time.monotonic() - quiet_since >= KEEPALIVE_S:
                    yield ": keepalive\n\n"
                    quiet_since = time.monotonic()
                continue
            if sent.first_time(notice["id"]):
                yield _event(notice, words, sent.last)
                quiet_since = time.monotonic()
    finally:
        feed.close(page)


@router.get("/live")
async def live(request: Request, person: CurrentPerson) -> StreamingResponse:
    return StreamingResponse(
        _stream(request, person),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
