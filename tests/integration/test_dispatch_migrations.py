"""Dispatch's data migrations on a real Postgres."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from services.dispatch import tables
from shared.db import Database
from shared.migrations import alembic_config

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def assignment(appeal_id: uuid.UUID, officer_id: str, *, open: bool = True) -> dict[str, object]:
    return {
        "appeal_id": appeal_id,
        "officer_id": officer_id,
        "reason_code": "department",
        "reason": "归口部门",
        "assigned_at": NOW,
        "open": open,
    }


def pending(appeal_id: uuid.UUID, officer_id: str, minutes: int = 0) -> dict[str, object]:
    return {
        "return_id": uuid.uuid4(),
        "appeal_id": appeal_id,
        "officer_id": officer_id,
        "reason_code": "workload",
        "reason": "积压",
        "requested_at": NOW + timedelta(minutes=minutes),
        "status": "pending",
    }


async def test_revision_3_settles_returns_a_move_left_pending_and_allows_one(settings):
    moved, held, closed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    config = alembic_config("dispatch", settings)
    await asyncio.to_thread(command.downgrade, config, "dispatch_0002")
    db = Database(settings)
    try:
        async with db.transaction() as session:
            await session.execute(
                insert(tables.assignments),
                [
                    assignment(moved, "dept-2"),  # moved on from dept-1 before any ruling
                    assignment(held, "dept-3"),
                    assignment(closed, "dept-4", open=False),
                ],
            )
            await session.execute(
                insert(tables.returns),
                [pending(moved, "dept-1"), pending(held, "dept-3"), pending(closed, "dept-4")],
            )
        await asyncio.to_thread(command.upgrade, config, "head")
        async with db.transaction() as session:
            rows = (await session.execute(select(tables.returns))).all()
        settled = {(r.appeal_id, r.officer_id): (r.status, r.decided_by) for r in rows}
        assert settled == {
            (moved, "dept-1"): ("superseded", "dispatch"),
            (held, "dept-3"): ("pending", None),
            (closed, "dept-4"): ("superseded", "dispatch"),
        }
        assert all(
            r.decided_at is not None and "无需再裁定" in r.note for r in rows if r.decided_by
        )
        with pytest.raises(IntegrityError):
            async with db.transaction() as session:
                await session.execute(insert(tables.returns).values(pending(held, "dept-3", 5)))
    finally:
        await db.dispose()
