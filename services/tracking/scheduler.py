"""The deadline scheduler: a background worker in every tracking replica that fires what has
fallen due (alarms.py decides what) and moves each deadline's markers on, in the transaction that
puts the resulting events into the outbox.

Safe with several replicas: a round locks the appeals it takes with `FOR UPDATE SKIP LOCKED`, so
each is fired by one replica, and what it fired is marked in the same commit, so it never fires
twice. It survives restarts (deadlines are rows, not timers in memory) and catches up at start on
everything that fell due while no replica was running."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from prometheus_client import Counter
from sqlalchemy import update

from services.tracking import store
from services.tracking.alarms import Alarm, Fired, fire
from services.tracking.deadlines import Stage
from services.tracking.lifecycle import (
    Action,
    FollowUpWindowExpired,
    Refused,
    RequestReassignment,
)
from services.tracking.workflow import AppealWorkflow
from shared.clock import utcnow
from shared.events import (
    AcknowledgementReminder,
    DeadlineOverdue,
    DeadlineWarning,
    Event,
    PublicNoticeIssued,
)
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from shared.vocabulary import AppealStatus
from shared.worker import StateWorker

log = logging.getLogger(__name__)

ALARMS_FIRED = Counter(
    "jiban_deadline_alarms_fired_total",
    "Deadline alarms fired, by stage and alarm",
    ["stage", "alarm"],
)
# An appeal whose alarms fail to fire (a bug, bad data) is set aside this long, not retried at
# the head of every round where it would starve the others.
SET_ASIDE = timedelta(minutes=10)

HISTORY_KIND = {
    Alarm.REMINDER: "acknowledgement_reminder",
    Alarm.WARNING: "deadline_warning",
    Alarm.OVERDUE: "deadline_overdue",
    Alarm.PUBLIC_NOTICE: "public_notice",
}
STAGE_ZH = {
    Stage.ACKNOWLEDGE: "签收",
    Stage.FIRST_CONTACT: "首次联系",
    Stage.RESOLVE: "办结",
    Stage.FOLLOW_UP: "回访",
}


class DeadlineScheduler(StateWorker):
    name = "deadline-scheduler"

    def __init__(
        self,
        units: UnitsOfWork,
        workflow: AppealWorkflow,
        *,
        batch_size: int,
        poll_interval_s: float,
        max_backoff_s: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(
            units,
            batch_size=batch_size,
            poll_interval_s=poll_interval_s,
            max_backoff_s=max_backoff_s,
        )
        self.workflow = workflow
        self.clock = clock

    async def round(self) -> int:
        now = self.clock()
        async with self.units.begin() as uow:
            session = uow.session
            appeal_ids = await store.due_appeal_ids(session, now, self.batch_size)
            for appeal_id in appeal_ids:
                try:
                    async with session.begin_nested():
                        await self.fire_for(uow, appeal_id, now)
                except Exception:
                    log.exception(
                        "deadline alarms failed; set aside", extra={"appeal_id": str(appeal_id)}
                    )
                    await session.execute(
                        update(store.deadlines)
                        .where(
                            store.deadlines.c.appeal_id == appeal_id,
                            store.deadlines.c.next_fire_at <= now,
                        )
                        .values(next_fire_at=now + SET_ASIDE)
                    )
        return len(appeal_ids)

    async def fire_for(self, uow: UnitOfWork, appeal_id: UUID, now: datetime) -> int:
        """Fires what is due for one appeal (the caller holds its lock); returns how many."""
        session = uow.session
        locked = await store.lock_appeal(session, appeal_id)
        every = self.workflow.time.reminder_every
        count = 0
        for stage, row in (await store.deadlines_of(session, appeal_id, due_by=now)).items():
            fired, marks = fire(store.marks_of(row), now, every)
            await store.save_marks(session, appeal_id, marks, reminder_every=every)
            for alarm in fired:
                ALARMS_FIRED.labels(stage.value, alarm.alarm.value).inc()
                await self._signal(uow, locked, stage, row, alarm, now)
                count += 1
        return count

    async def _signal(
        self,
        uow: UnitOfWork,
        locked: store.LockedAppeal,
        stage: Stage,
        row: Any,
        fired: Fired,
        now: datetime,
    ) -> None:
        appeal_id = UUID(locked.record.appeal_id)
        state = locked.state
        event_id = uuid.uuid5(appeal_id, f"{stage}:{fired.alarm}:{fired.due.isoformat()}")
        correlation_id = str(event_id)
        session = uow.session
        if fired.alarm is Alarm.WINDOW_END:
            await self._act(
                uow, locked, FollowUpWindowExpired(), now, event_id, "closed_no_feedback"
            )
            return
        officer = await store.officer_row(session, state.officer_id)
        common: dict[str, Any] = {
            "appeal_id": appeal_id,
            "stage": stage.value,
            "officer_id": state.officer_id,
            "supervisor_id": officer.supervisor_id if officer else None,
            "unit": officer.unit if officer else None,
            "due_at": row.due_at,
            "rule": row.reason[:500],
            "fired_at": now,
            "tracking_code": locked.record.tracking_code,
        }
        event: Event
        what = STAGE_ZH[stage]
        if fired.alarm is Alarm.REMINDER:
            event = AcknowledgementReminder(**common, reminder_number=fired.number)
            note = f"第 {fired.number} 次提醒签收；时限 {row.due_at.isoformat()}"
        elif fired.alarm is Alarm.WARNING:
            event = DeadlineWarning(**common)
            note = f"{what}时限将到（{row.due_at.isoformat()}）：{row.reason}"
        elif fired.alarm is Alarm.OVERDUE:
            event = DeadlineOverdue(**common)
            boss = common["supervisor_id"] or "（未知）"
            note = f"{what}超时，催办；已报 {boss}：{row.reason}"
        else:
            days = self.workflow.time.policy.public_notice_after_working_days
            event = PublicNoticeIssued(**common, overdue_working_days=days)
            note = f"{what}超时 {days} 个工作日仍未办理，通报 {common['unit'] or ''}"
        await self.workflow.publish(uow, event, correlation_id=correlation_id)
        await self.workflow.note(
            session,
            appeal_id,
            event_id=event_id,
            at=now,
            kind=HISTORY_KIND[fired.alarm],
            actor="tracking",
            note=note,
            locked=locked,
        )
        if (
            fired.alarm is Alarm.OVERDUE
            and stage is Stage.ACKNOWLEDGE
            and state.status is AppealStatus.ASSIGNED
            and state.officer_id is not None
        ):
            # Not acknowledged in time: dispatch finds someone else.
            action = RequestReassignment(
                reason_code="not_acknowledged", exclude_officer_ids=(state.officer_id,)
            )
            await self._act(
                uow,
                locked,
                action,
                now,
                uuid.uuid5(event_id, "reassign"),
                "reassignment_requested",
            )

    async def _act(
        self,
        uow: UnitOfWork,
        locked: store.LockedAppeal,
        action: Action,
        now: datetime,
        event_id: UUID,
        kind: str,
    ) -> None:
        try:
            await self.workflow.act(
                uow,
                UUID(locked.record.appeal_id),
                action,
                at=now,
                event_id=event_id,
                correlation_id=str(event_id),
                kind=kind,
                locked=locked,
            )
        except Refused as refused:
            # The appeal moved on meanwhile (reopened, returned): nothing to do.
            log.info("deadline action refused", extra={"reason": refused.reason})
