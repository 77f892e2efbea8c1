"""Applies lifecycle actions to stored appeals, one transaction each: lock the appeal, ask the
lifecycle (lifecycle.py, the one authority on what may happen next), then store the new state,
its milestones and history, put the events it causes into the outbox, and move the deadlines
(deadlines.py) along. The consumers, the officers' routes and the deadline scheduler all come
through here, so an appeal changes the same way whoever moves it.

Deadlines, per step:

- received: acknowledge, first contact (not for anonymous appeals) and resolve are set from the
  policy; the history records which limit won and why.
- reassigned to another officer: the new officer's acknowledgement is counted afresh from the
  reassignment; the appellant's resolve deadline keeps running.
- accepted / first contact / resolved: that stage is met; a resolution starts the follow-up
  window (回访).
- reopened (重办): acknowledge, first contact and resolve start afresh from the reopening.
- closed: nothing more fires.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking import five_ones_store, store
from services.tracking.deadlines import DeadlinePolicy, Stage, StageDeadline
from services.tracking.lifecycle import (
    Accept,
    Action,
    AppealState,
    Assign,
    Contact,
    Escalation,
    FollowUp,
    Outcome,
    ReassignmentRequest,
    Resolve,
    ReturnRequest,
    StatusChange,
    decide,
)
from services.tracking.projection import AppealRecord
from services.tracking.working_days import WorkingCalendar
from shared.events import (
    AppealEscalated,
    AppealStatusChanged,
    Event,
    ReassignmentRequested,
    ReturnRequested,
)
from shared.settings import Settings
from shared.unit_of_work import UnitOfWork
from shared.vocabulary import AppealStatus, AppealType, Category, Satisfaction, Urgency

log = logging.getLogger(__name__)

SERVICE = "tracking"
# The history's column widths: a long note is cut, never a failed message.
ACTOR_CHARS = 100
NOTE_CHARS = 1000
# An appeal whose type nobody could tell is held to the `help` limit (10 working days): neither
# the consultation's 2 days nor the complaint's 15.
UNKNOWN_TYPE = AppealType.HELP

Project = Callable[[AppealRecord], AppealRecord]


@dataclass(frozen=True)
class Timekeeping:
    """The deadline policy, the working-day calendar and the acknowledgement reminders' pace."""

    policy: DeadlinePolicy
    calendar: WorkingCalendar
    reminder_every: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Timekeeping:
        return cls(
            policy=DeadlinePolicy.from_file(settings.deadline_policy_path),
            calendar=WorkingCalendar.from_file(settings.working_days_overrides_path),
            reminder_every=timedelta(minutes=settings.acknowledge_reminder_every_minutes),
        )


class NotYours(Exception):
    """An officer acted on an appeal that is not (or no longer) theirs."""


def history_id(base: UUID, part: str) -> UUID:
    """A history entry's id derived from the event that caused it, so redelivery adds none."""
    return uuid.uuid5(base, part)


_KIND = re.compile(r"(?<!^)(?=[A-Z])")


def kind_of(action: Action) -> str:
    """`RequestReturn` → `request_return`: the history's kind for an action."""
    return _KIND.sub("_", type(action).__name__).lower()


class AppealWorkflow:
    def __init__(self, timekeeping: Timekeeping) -> None:
        self.time = timekeeping

    # -- the one way an appeal changes

    async def act(
        self,
        uow: UnitOfWork,
        appeal_id: UUID,
        action: Action,
        *,
        at: datetime,
        event_id: UUID,
        correlation_id: str,
        kind: str | None = None,
        note: str | None = None,
        project: Project | None = None,
        officer_must_be: str | None = None,
        locked: store.LockedAppeal | None = None,
    ) -> Outcome:
        """Applies `action` (raises lifecycle.Refused, or NotYours when `officer_must_be` is
        not the appeal's officer under the lock). `project` folds the event's facts into the
        record as well, but only if the lifecycle accepts the action. `kind` and `note` name
        the history entry (default: the action's, the lifecycle's note)."""
        session = uow.session
        locked = locked or await store.lock_appeal(session, appeal_id)
        state = locked.state
        if officer_must_be is not None and state.officer_id != officer_must_be:
            raise NotYours(appeal_id)
        outcome = decide(state, action)
        if not outcome.changed:
            return outcome
        new = outcome.state
        record = project(locked.record) if project else locked.record
        milestones = _milestones(locked.row, state, new, action, at)
        await store.save_appeal(session, record, new, **milestones)
        said = note if note is not None else "; ".join(e.note for e in outcome.history)
        said = said[:NOTE_CHARS] or None
        for i, entry in enumerate(outcome.history):
            await store.append_history(
                session,
                appeal_id=appeal_id,
                event_id=event_id if i == 0 else history_id(event_id, f"history:{i}"),
                kind=kind or kind_of(action),
                status=entry.to_status,
                occurred_at=at,
                actor=entry.by[:ACTOR_CHARS],
                note=said,
            )
        for effect in outcome.effects:
            await self._publish(
                uow, appeal_id, record, new, effect, action.by, said, at, correlation_id
            )
        await self._move_deadlines(session, appeal_id, record, state, new, action, at, event_id)
        return outcome

    async def note(
        self,
        session: AsyncSession,
        appeal_id: UUID,
        *,
        event_id: UUID,
        at: datetime,
        kind: str,
        actor: str,
        note: str | None,
        project: Project | None = None,
        locked: store.LockedAppeal | None = None,
        skip_if_unchanged: bool = False,
        status: AppealStatus | None = None,
        **columns: Any,
    ) -> store.LockedAppeal:
        """Something that happens to an appeal without the lifecycle (received, merged, a new
        list of assistants, the scheduler's warnings): the record, and a history entry that
        records where the appeal stands (or `status`: a receipt is always `received`, even
        when the assignment was heard first). `columns`: other columns to set with it."""
        locked = locked or await store.lock_appeal(session, appeal_id)
        record = project(locked.record) if project else locked.record
        if skip_if_unchanged and record == locked.record:
            # The same fact again under another event id (the inbox caught only the same id):
            # nothing happened, so nothing enters the history either.
            return locked
        if record != locked.record or locked.record.status is None or columns:
            await store.save_appeal(session, record, locked.state, **columns)
        await store.append_history(
            session,
            appeal_id=appeal_id,
            event_id=event_id,
            kind=kind,
            status=status or locked.state.status,
            occurred_at=at,
            actor=actor[:ACTOR_CHARS],
            note=None if note is None else note[:NOTE_CHARS],
        )
        return replace(locked, record=record)

    async def publish(self, uow: UnitOfWork, event: Event, *, correlation_id: str) -> None:
        await uow.publish(event, correlation_id=correlation_id)

    # -- deadlines

    def schedule(
        self, record: AppealRecord, start: datetime, *, anonymous: bool, basis: str = "received"
    ) -> list[StageDeadline]:
        """The officer's deadlines from `start`: acknowledge, first contact (none for an
        anonymous appeal: nobody to contact) and resolve."""
        schedule = self.time.policy.schedule(*_key(record), start, self.time.calendar, basis=basis)
        skip = {Stage.FOLLOW_UP, *((Stage.FIRST_CONTACT,) if anonymous else ())}
        return [d for d in schedule if d.stage not in skip]

    def restart(
        self, record: AppealRecord, stage: Stage, start: datetime, basis: str
    ) -> StageDeadline:
        return self.time.policy.stage_deadline(
            stage, *_key(record), start, self.time.calendar, start_basis=basis
        )

    async def set_deadlines(
        self,
        session: AsyncSession,
        appeal_id: UUID,
        deadlines: list[StageDeadline],
        *,
        at: datetime,
        event_id: UUID,
        status: AppealStatus,
        why: str,
    ) -> None:
        """Stores the deadlines (afresh) and says in the history which limit applied to each.
        The caller refreshes the appeal's `due_at`."""
        await store.put_deadlines(
            session, appeal_id, deadlines, reminder_every=self.time.reminder_every
        )
        if deadlines:
            lines = [f"{d.stage}: {d.due_at.isoformat()} ({d.reason})" for d in deadlines]
            await store.append_history(
                session,
                appeal_id=appeal_id,
                event_id=history_id(event_id, "deadlines"),
                kind="deadlines_set",
                status=status,
                occurred_at=at,
                actor=SERVICE,
                note=(f"{why}: " + "; ".join(lines))[:NOTE_CHARS],
            )

    async def _move_deadlines(
        self,
        session: AsyncSession,
        appeal_id: UUID,
        record: AppealRecord,
        before: AppealState,
        after: AppealState,
        action: Action,
        at: datetime,
        event_id: UUID,
    ) -> None:
        S = AppealStatus
        fresh: list[StageDeadline] = []
        why = ""
        if after.status is S.CLOSED:
            await store.cancel_deadlines(session, appeal_id)
            if isinstance(action, FollowUp):
                await store.meet_deadline(session, appeal_id, Stage.FOLLOW_UP, at)
        elif isinstance(action, Assign) and before.officer_id not in (None, after.officer_id):
            # Deadlines exist once the appeal was received (an assignment may come first).
            if record.received_at is not None:
                fresh = [self.restart(record, Stage.ACKNOWLEDGE, at, "reassigned")]
                why = f"reassigned to {after.officer_id}"
        elif isinstance(action, Accept):
            await store.meet_deadline(session, appeal_id, Stage.ACKNOWLEDGE, at)
        elif isinstance(action, Contact):
            await store.meet_deadline(session, appeal_id, Stage.FIRST_CONTACT, at)
            if record.enterprise_credit_code and after.officer_id:
                # A CSO's contact with their own enterprise counts for the "five ones".
                await five_ones_store.record_appeal_contact(
                    session,
                    ref=f"appeal:{event_id}",
                    officer_id=after.officer_id,
                    credit_code=record.enterprise_credit_code,
                    contacted_at=at,
                )
        elif isinstance(action, Resolve):
            await store.meet_deadline(session, appeal_id, Stage.RESOLVE, at)
            fresh = [self.restart(record, Stage.FOLLOW_UP, at, "resolved")]
            why = "resolved; the follow-up window"
        elif isinstance(action, FollowUp) and after.status is S.REOPENED:
            await store.meet_deadline(session, appeal_id, Stage.FOLLOW_UP, at)
            fresh = self.schedule(record, at, anonymous=after.anonymous, basis="reopened")
            why = "reopened (重办)"
        else:
            return  # nothing about the deadlines changed
        if fresh:
            await self.set_deadlines(
                session, appeal_id, fresh, at=at, event_id=event_id, status=after.status, why=why
            )
        await store.refresh_due(session, appeal_id)

    # -- effects → events

    async def _publish(
        self,
        uow: UnitOfWork,
        appeal_id: UUID,
        record: AppealRecord,
        state: AppealState,
        effect: Any,
        by: str,
        note: str | None,
        at: datetime,
        correlation_id: str,
    ) -> None:
        event: Event
        match effect:
            case StatusChange(from_status=before, to_status=after, officer_id=officer):
                event = AppealStatusChanged(
                    appeal_id=appeal_id,
                    from_status=before,
                    to_status=after,
                    officer_id=officer,
                    changed_at=at,
                    changed_by=by,
                    note=note,
                    closed_reason=state.closed_reason if after is AppealStatus.CLOSED else None,
                    tracking_code=record.tracking_code,
                )
            case ReturnRequest(officer_id=officer, reason_code=code, reason=reason):
                event = ReturnRequested(
                    appeal_id=appeal_id, officer_id=officer, reason_code=code, reason=reason
                )
            case ReassignmentRequest(reason_code=code, exclude_officer_ids=exclude):
                event = ReassignmentRequested(
                    appeal_id=appeal_id, reason_code=code, exclude_officer_ids=list(exclude)
                )
            case Escalation(officer_id=officer, reopen_count=count):
                boss = await store.officer_row(uow.session, officer)
                event = AppealEscalated(
                    appeal_id=appeal_id,
                    officer_id=officer,
                    supervisor_id=boss.supervisor_id if boss else None,
                    unit=boss.unit if boss else None,
                    reason="reopened_again",
                    reopen_count=count,
                    escalated_at=at,
                )
            case _:
                # ExtensionRequest: the extension route publishes it with the request's id.
                return
        await self.publish(uow, event, correlation_id=correlation_id)


def _key(record: AppealRecord) -> tuple[str, str, str]:
    return (
        record.appeal_type or UNKNOWN_TYPE,
        record.urgency or Urgency.NORMAL,
        record.category or Category.OTHER,
    )


def _milestones(
    row: Any, before: AppealState, after: AppealState, action: Action, at: datetime
) -> dict[str, Any]:
    """The columns that say when each step last happened."""
    S = AppealStatus
    values: dict[str, Any] = {}
    if isinstance(action, Accept):
        values["accepted_at"] = at
    if isinstance(action, Contact) and row.first_contacted_at is None:
        values["first_contacted_at"] = at
    if isinstance(action, Resolve):
        values["resolved_at"] = at
    if isinstance(action, FollowUp) and action.satisfaction is not Satisfaction.UNREACHABLE:
        values["followed_up_at"] = at
        values["follow_up_solved"] = action.solved
        values["follow_up_satisfaction"] = action.satisfaction.value
    if after.status is S.CLOSED and before.status is not S.CLOSED:
        values["closed_at"] = at
    return values
