"""The replica's readers of the live notices table: `LiveFeed` looks for new notices once per
poll for all of the replica's open pages and hands each page what it hears (the database sees
one query a poll however many pages are open, and none while no page is); `NoticePruner` clears
notices no page needs any more. Both are `shared.worker` loops (a failed round is logged and
tried again after a backoff)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from services.console.live import store
from shared.clock import utcnow
from shared.db import Database
from shared.worker import PollingWorker

KEPT_FOR = timedelta(days=1)
# Read in pages of this many; a feed that fell behind reads on at once.
BATCH = 500
# Ids are handed out at insert and commit in another order: an id skipped by a read may belong
# to a transaction still open. It is looked for again on each poll for this long (a rolled-back
# insert never shows up), and a jump wider than MAX_GAP (a sequence reset) is not waited for.
GAP_WAIT_S = 30.0
MAX_GAP = 1000


@dataclass(eq=False)
class OpenPage:
    """One open page's subscription: what it hears arrives on `notices`."""

    officer_id: str
    unit: str | None  # set for those who oversee a unit: its notices reach them too
    since: int  # the page has (or reads by itself) every notice up to this id
    notices: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    def hears(self, notice: dict[str, Any]) -> bool:
        if notice["officer_id"] == self.officer_id:
            return True
        return self.unit is not None and notice["unit"] == self.unit


class LiveFeed(PollingWorker):
    name = "live-feed"

    def __init__(self, db: Database, poll_s: float) -> None:
        super().__init__(batch_size=BATCH, poll_interval_s=poll_s, max_backoff_s=30.0)
        self.db = db
        self.pages: set[OpenPage] = set()
        self.polls = 0
        self._last: int | None = None
        # Ids skipped by a read, and when they were first missed (see GAP_WAIT_S).
        self.gaps: dict[int, float] = {}

    def open(self, officer_id: str, unit: str | None, since: int) -> OpenPage:
        """Subscribes a page: from now on every notice after `since` that it hears is handed
        to it. (A page reads what came before it subscribed by itself: `store.after`.)"""
        page = OpenPage(officer_id, unit, since)
        self.pages.add(page)
        self.wake()
        return page

    def close(self, page: OpenPage) -> None:
        self.pages.discard(page)

    async def round(self) -> int:
        return await self.poll()

    async def poll(self) -> int:
        """Reads what is new since the last poll and hands it out; returns how many were read.
        With no page open it reads nothing, and the next page says where to start from."""
        if not self.pages:
            self._last = None
            self.gaps.clear()
            return 0
        start = self._last
        if start is None:
            start = min(page.since for page in self.pages)
        self.polls += 1
        now = time.monotonic()
        self.gaps = {i: at for i, at in self.gaps.items() if now - at < GAP_WAIT_S}
        async with self.db.sessions() as session:
            late = await store.by_ids(session, sorted(self.gaps)) if self.gaps else []
            notices = await store.after_all(session, start, BATCH)
        for notice in late:
            del self.gaps[notice["id"]]
        previous = start
        for notice in notices:
            if 1 < notice["id"] - previous <= MAX_GAP:
                self.gaps.update(dict.fromkeys(range(previous + 1, notice["id"]), now))
            previous = notice["id"]
        for notice in (*late, *notices):
            for page in list(self.pages):
                if notice["id"] > page.since and page.hears(notice):
                    page.notices.put_nowait(notice)
        self._last = notices[-1]["id"] if notices else start
        return len(late) + len(notices)


class NoticePruner(PollingWorker):
    """Notices older than a day are of no use to any page: each replica clears them now and
    then (deleting what another replica deleted already is harmless)."""

    name = "live-notice-pruner"

    def __init__(self, db: Database, every_s: float = 3600.0) -> None:
        super().__init__(batch_size=1, poll_interval_s=every_s, max_backoff_s=every_s)
        self.db = db

    async def round(self) -> int:
        async with self.db.transaction() as session:
            await store.prune(session, utcnow() - KEPT_FOR)
        return 0
