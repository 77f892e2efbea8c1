"""The replica's readers of the live notices table: `LiveFeed` looks for new notices once per
poll for all of the replica's open pages and hands each page what it hears (the database sees
one query a poll however many pages are open, and none while no page is); `NoticePruner` clears
notices no page needs any more."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from services.console.live import store
from shared.clock import utcnow
from shared.db import Database

log = logging.getLogger(__name__)

KEPT_FOR = timedelta(days=1)
# Read in pages of this many; a feed that fell behind reads on at once.
BATCH = 500


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


class LiveFeed:
    def __init__(self, db: Database, poll_s: float) -> None:
        self.db = db
        self.poll_s = poll_s
        self.pages: set[OpenPage] = set()
        self.polls = 0
        self._last: int | None = None
        self._someone = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def open(self, officer_id: str, unit: str | None, since: int) -> OpenPage:
        """Subscribes a page: from now on every notice after `since` that it hears is handed
        to it. (A page reads what came before it subscribed by itself: `store.after`.)"""
        page = OpenPage(officer_id, unit, since)
        self.pages.add(page)
        self._someone.set()
        return page

    def close(self, page: OpenPage) -> None:
        self.pages.discard(page)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def poll(self) -> int:
        """Reads what is new since the last poll and hands it out; returns how many were read."""
        if not self.pages:
            return 0
        start = self._last
        if start is None:
            start = min(page.since for page in self.pages)
        self.polls += 1
        async with self.db.sessions() as session:
            notices = await store.after_all(session, start, BATCH)
        for notice in notices:
            for page in list(self.pages):
                if notice["id"] > page.since and page.hears(notice):
                    page.notices.put_nowait(notice)
        self._last = notices[-1]["id"] if notices else start
        return len(notices)

    async def _run(self) -> None:
        while True:
            if not self.pages:
                # Nobody to hand anything to: wait for a page, which says where to start from.
                self._last = None
                self._someone.clear()
                await self._someone.wait()
            try:
                read = await self.poll()
            except Exception:
                log.warning("live notices could not be read; trying again", exc_info=True)
                read = 0
            if read < BATCH:
                await asyncio.sleep(self.poll_s)


class NoticePruner:
    """Notices older than a day are of no use to any page: each replica clears them now and
    then (deleting what another replica deleted already is harmless)."""

    def __init__(self, db: Database, every_s: float = 3600.0) -> None:
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
                async with self.db.transaction() as session:
                    await store.prune(session, utcnow() - KEPT_FOR)
            except Exception:
                log.warning("old live notices could not be cleared; trying later", exc_info=True)
            await asyncio.sleep(self.every_s)
