"""A read put together from several queries (an appeal and its history, a report's figures)
sees one moment: a transaction committed between two of its SELECTs shows in neither or both,
against a real Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from harness import sql
from sqlalchemy import text

from shared.db import Database
from shared.http import _session, _snapshot_session

pytestmark = pytest.mark.integration


async def _reads_twice_around_a_commit(
    db: Database, dependency: Callable[[Any], AsyncIterator[Any]]
) -> tuple[int, int]:
    request = SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(db=db)))
    )
    sessions = dependency(request)
    session = await anext(sessions)
    try:
        count = text("SELECT count(*) FROM snapshot_probe")
        first = (await session.execute(count)).scalar_one()
        await sql(db, "INSERT INTO snapshot_probe VALUES (2)")  # another transaction commits
        second = (await session.execute(count)).scalar_one()
    finally:
        await sessions.aclose()
    return first, second


async def test_a_snapshot_read_does_not_see_what_committed_in_between(db: Database) -> None:
    await sql(db, "CREATE TABLE snapshot_probe (n int)")
    await sql(db, "INSERT INTO snapshot_probe VALUES (1)")

    assert await _reads_twice_around_a_commit(db, _snapshot_session) == (1, 1)
    # The plain read session (one statement's worth of consistency) does see it: the contrast
    # shows the probe can tell the two apart.
    assert await _reads_twice_around_a_commit(db, _session) == (2, 3)
