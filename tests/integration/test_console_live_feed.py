"""A console replica's live feed on the real Postgres: one read of the notices table per poll
for all of the replica's open pages, each page handed what it hears and nothing from before it
opened, and no read at all while no page is open."""

from __future__ import annotations

import uuid

import pytest

from services.console.live import store
from services.console.live.feed import LiveFeed, OpenPage
from services.console.live.notices import LiveNotice
from shared.db import Database

pytestmark = pytest.mark.integration


async def _save(db: Database, *notices: LiveNotice) -> None:
    async with db.transaction() as session:
        await store.save(session, notices)


def _notice(kind: str, officer_id: str, unit: str | None = None) -> LiveNotice:
    return LiveNotice(kind=kind, appeal_id=uuid.uuid4(), officer_id=officer_id, unit=unit)


async def test_one_read_a_poll_hands_each_open_page_what_it_hears(db: Database) -> None:
    feed = LiveFeed(db, poll_s=0.05)
    await _save(db, _notice("assigned", "officer-a"))  # before any page opened
    async with db.sessions() as session:
        since = await store.latest_id(session)
    a = feed.open("officer-a", None, since)
    b = feed.open("officer-b", None, since)
    supervisor = feed.open("supervisor-u", "unit-u", since)

    await _save(
        db,
        _notice("assisting", "officer-a"),
        _notice("urged", "officer-c", unit="unit-u"),
        _notice("return_rejected", "officer-b"),
    )
    assert await feed.poll() == 3
    assert feed.polls == 1

    def kinds(page: OpenPage) -> list[str]:
        return [page.notices.get_nowait()["kind"] for _ in range(page.notices.qsize())]

    assert kinds(a) == ["assisting"]
    assert kinds(b) == ["return_rejected"]
    assert kinds(supervisor) == ["urged"]

    # A page opened later hears only what comes after its own start.
    await _save(db, _notice("due_soon", "officer-d"))
    async with db.sessions() as session:
        later = feed.open("officer-d", None, await store.latest_id(session))
    await _save(db, _notice("assigned", "officer-d"))
    assert await feed.poll() == 2
    assert kinds(later) == ["assigned"]

    for page in (a, b, supervisor, later):
        feed.close(page)
    assert await feed.poll() == 0
    assert feed.polls == 2, "no page open: the table is not read"


async def test_a_notice_that_commits_after_a_later_one_still_reaches_its_page_once(
    db: Database, wait_until, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = LiveFeed(db, poll_s=0.05)
    async with db.sessions() as session:
        page = feed.open("officer-a", None, await store.latest_id(session))

    # The first insert takes the lower id but commits after the second.
    async with db.transaction() as slow:
        await store.save(slow, [_notice("assigned", "officer-a")])
        await _save(db, _notice("urged", "officer-a"))
        assert await feed.poll() == 1
        assert len(feed.gaps) == 1
    assert await feed.poll() == 1
    assert not feed.gaps
    heard = [page.notices.get_nowait() for _ in range(page.notices.qsize())]
    assert [n["kind"] for n in heard] == ["urged", "assigned"]
    assert heard[0]["id"] > heard[1]["id"]
    assert await feed.poll() == 0 and page.notices.empty()

    # A rolled-back insert leaves a gap that is given up after a while.
    monkeypatch.setattr("services.console.live.feed.GAP_WAIT_S", 0.2)
    with pytest.raises(RuntimeError):
        async with db.transaction() as doomed:
            await store.save(doomed, [_notice("assigned", "officer-a")])
            raise RuntimeError("rolled back")
    await _save(db, _notice("due_soon", "officer-a"))
    assert await feed.poll() == 1 and len(feed.gaps) == 1

    async def given_up() -> bool:
        await feed.poll()
        return not feed.gaps

    await wait_until(given_up)
    assert [page.notices.get_nowait()["kind"] for _ in range(page.notices.qsize())] == ["due_soon"]
    feed.close(page)
