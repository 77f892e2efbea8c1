"""The deadline scheduler on the real database: with two replicas each alarm fires exactly once,
a restart catches up, an appeal not acknowledged in time is handed back to dispatch, and a
follow-up window that ran out closes the appeal as `no_feedback`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from factories import assigned, envelope_of, received
from sqlalchemy import func, select

from services.tracking import tables as store
from services.tracking.appeals import handlers
from services.tracking.appeals.lifecycle import Accept, Contact, Resolve
from services.tracking.appeals.workflow import AppealWorkflow
from services.tracking.deadlines.scheduler import DeadlineScheduler
from services.tracking.deadlines.timekeeping import Timekeeping
from shared.db import Database
from shared.envelope import Envelope
from shared.events import Event, FollowUpRecorded
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import AppealType, Channel, Satisfaction

pytestmark = pytest.mark.integration

APPEALS = 24
T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Shanghai


def _workflow(settings) -> AppealWorkflow:
    return AppealWorkflow(Timekeeping.from_settings(settings))


async def _handle(db: Database, workflow: AppealWorkflow, event: Event) -> None:
    routes = {
        **handlers.received_routes(workflow),
        **handlers.assignment_routes(workflow),
    }
    env: Envelope = envelope_of(event)
    async with UnitsOfWork.of(db, store.metadata, producer="tracking").begin() as uow:
        await routes[event.TYPE].handler(uow, env, event)


async def _seed(db: Database, workflow: AppealWorkflow, n: int) -> list[UUID]:
    ids = []
    for i in range(n):
        appeal = received(appeal_type=AppealType.COMPLAINT, received_at=T0)
        await _handle(db, workflow, appeal)
        await _handle(db, workflow, assigned(appeal.appeal_id, f"cw-{i % 3}", assigned_at=T0))
        ids.append(appeal.appeal_id)
    return ids


async def _outbox_counts(db: Database) -> dict[str, int]:
    kind = store.outbox.c.headers["x-event-type"].astext
    async with db.transaction() as session:
        rows = await session.execute(select(kind, func.count()).group_by(kind))
        return {k: n for k, n in rows.all()}


async def _run_until_idle(*schedulers: DeadlineScheduler) -> None:
    async def drain(s: DeadlineScheduler) -> None:
        while await s.round():
            pass

    await asyncio.gather(*(drain(s) for s in schedulers))


def _scheduler(db: Database, workflow: AppealWorkflow, clock) -> DeadlineScheduler:
    return DeadlineScheduler(
        UnitsOfWork.of(db, store.metadata, producer="tracking"),
        workflow,
        batch_size=5,
        poll_interval_s=1,
        max_backoff_s=1,
        clock=clock,
    )


async def test_two_replicas_fire_each_alarm_once_and_catch_up_after_downtime(settings):
    one, two = Database(settings), Database(settings)
    workflow = _workflow(settings)
    try:
        await _seed(one, workflow, APPEALS)
        before = await _outbox_counts(one)
        now = {"t": T0 + timedelta(hours=2)}
        replicas = [_scheduler(db, workflow, lambda: now["t"]) for db in (one, two)]

        # Two hours in: nothing is due yet (the first reminder comes after four).
        await _run_until_idle(*replicas)
        assert await _outbox_counts(one) == before

        # Two days in, both replicas at once: acknowledge and first contact (24 hours) are
        # overdue; their warnings and reminders are pointless by now and skipped.
        now["t"] = T0 + timedelta(days=2)
        await _run_until_idle(*replicas)
        await _run_until_idle(*replicas)  # again: nothing more
        counts = await _outbox_counts(one)
        assert counts.get("DeadlineOverdue", 0) == 2 * APPEALS
        assert counts.get("ReassignmentRequested", 0) == APPEALS
        assert counts.get("DeadlineWarning", 0) == 0
        assert counts.get("AcknowledgementReminder", 0) == 0

        # Down for two months: the complaint's 15 working days ran out, and every public
        # notice (5 working days after each limit) is due; each goes once.
        now["t"] = T0 + timedelta(days=60)
        await _run_until_idle(*replicas)
        await _run_until_idle(*replicas)
        counts = await _outbox_counts(one)
        assert counts["DeadlineOverdue"] == 3 * APPEALS
        assert counts["PublicNoticeIssued"] == 3 * APPEALS
        assert counts.get("DeadlineWarning", 0) == 0, counts
        async with one.transaction() as session:
            left = await session.scalar(
                select(func.count()).where(store.deadlines.c.next_fire_at.is_not(None))
            )
            kinds = await session.execute(
                select(store.history.c.kind, func.count()).group_by(store.history.c.kind)
            )
        assert left == 0
        history = dict(kinds.all())
        assert history["deadline_overdue"] == 3 * APPEALS
        assert history["public_notice"] == 3 * APPEALS
        assert history["reassignment_requested"] == APPEALS
    finally:
        await one.dispose()
        await two.dispose()


async def test_reminders_and_the_warning_before_the_limit(settings):
    db = Database(settings)
    workflow = _workflow(settings)
    try:
        [appeal_id] = await _seed(db, workflow, 1)
        now = {"t": T0}
        scheduler = _scheduler(db, workflow, lambda: now["t"])
        for hours in (4, 8, 9, 20):
            now["t"] = T0 + timedelta(hours=hours)
            await _run_until_idle(scheduler)
        counts = await _outbox_counts(db)
        # Reminders at 4 and 8 hours; at 20 hours the 80 % warnings of acknowledge and first
        # contact (at 19.2 hours) and the reminder of 16 hours, caught up.
        assert counts["AcknowledgementReminder"] == 3
        assert counts["DeadlineWarning"] == 2
        # Accepting stops the reminders for good.
        await _act(db, workflow, appeal_id, Accept(by="cw-0"), T0 + timedelta(hours=21))
        now["t"] = T0 + timedelta(hours=23, minutes=59)
        await _run_until_idle(scheduler)
        assert (await _outbox_counts(db))["AcknowledgementReminder"] == 3
    finally:
        await db.dispose()


async def _act(db, workflow, appeal_id, action, at) -> None:
    workflow.clock = lambda: at
    async with UnitsOfWork.of(db, store.metadata, producer="tracking").begin() as uow:
        await workflow.act(uow, appeal_id, action, correlation_id="test")


async def test_a_follow_up_window_that_runs_out_closes_the_appeal_as_no_feedback(settings):
    db = Database(settings)
    workflow = _workflow(settings)
    try:
        [appeal_id] = await _seed(db, workflow, 1)
        resolved_at = T0 + timedelta(hours=3)
        await _act(db, workflow, appeal_id, Accept(by="cw-0"), T0 + timedelta(hours=1))
        await _act(
            db, workflow, appeal_id, Contact(by="cw-0", method="phone"), T0 + timedelta(hours=2)
        )
        await _act(
            db, workflow, appeal_id, Resolve(by="cw-0", resolution="已恢复供水"), resolved_at
        )
        # Five working days after Monday: the end of the next Monday (Shanghai).
        window_end = datetime(2026, 12, 7, 15, 59, 59, 999999, tzinfo=UTC)
        now = {"t": window_end - timedelta(minutes=1)}
        scheduler = _scheduler(db, workflow, lambda: now["t"])
        await _run_until_idle(scheduler)
        async with db.transaction() as session:
            row = (
                await session.execute(
                    select(store.appeals).where(store.appeals.c.appeal_id == appeal_id)
                )
            ).one()
        assert row.status == "resolved"
        now["t"] = window_end + timedelta(minutes=1)
        await _run_until_idle(scheduler)
        async with db.transaction() as session:
            row = (
                await session.execute(
                    select(store.appeals).where(store.appeals.c.appeal_id == appeal_id)
                )
            ).one()
            changes = [
                r.value
                for r in (
                    await session.execute(
                        select(store.outbox).where(
                            store.outbox.c.headers["x-event-type"].astext == "AppealStatusChanged"
                        )
                    )
                ).all()
            ]
        assert (row.status, row.closed_reason) == ("closed", "no_feedback")
        assert row.closed_at is not None
        assert b'"closed_reason":"no_feedback"' in changes[-1]
        # Every stage was met in time: no alarm fired at all.
        counts = await _outbox_counts(db)
        assert "DeadlineOverdue" not in counts and "PublicNoticeIssued" not in counts
    finally:
        await db.dispose()


async def test_an_unreachable_appellant_is_counted_and_the_window_still_closes_it(settings):
    db = Database(settings)
    workflow = _workflow(settings)
    follow_up = handlers.follow_up_routes(workflow)[FollowUpRecorded.TYPE].handler
    try:
        [appeal_id] = await _seed(db, workflow, 1)
        await _act(db, workflow, appeal_id, Accept(by="cw-0"), T0 + timedelta(hours=1))
        await _act(
            db, workflow, appeal_id, Contact(by="cw-0", method="visit"), T0 + timedelta(hours=2)
        )
        await _act(
            db,
            workflow,
            appeal_id,
            Resolve(by="cw-0", resolution="已清淤"),
            T0 + timedelta(hours=3),
        )
        for day in (1, 2):
            call = FollowUpRecorded(
                appeal_id=appeal_id,
                channel=Channel.HOTLINE_12345,
                contacted=False,
                solved=False,
                satisfaction=Satisfaction.UNREACHABLE,
                recorded_at=T0 + timedelta(days=day),
            )
            env = envelope_of(call)
            for _ in range(2):  # the second time a redelivery under the same event id
                async with UnitsOfWork.of(db, store.metadata, producer="tracking").begin() as uow:
                    await follow_up(uow, env, call)
        scheduler = _scheduler(db, workflow, lambda: T0 + timedelta(days=30))
        await _run_until_idle(scheduler)
        async with db.transaction() as session:
            row = (
                await session.execute(
                    select(store.appeals).where(store.appeals.c.appeal_id == appeal_id)
                )
            ).one()
        assert (row.status, row.closed_reason, row.unreachable_count) == (
            "closed",
            "no_feedback",
            2,
        )
        assert row.followed_up_at is None  # no conclusive answer: outside the rates
    finally:
        await db.dispose()
