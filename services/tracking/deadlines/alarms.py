"""What a deadline fires, and when. Pure: the scheduler hands in a deadline's row and the time,
and gets back the alarms due now and the row's new markers; it stores both in one transaction.

Per stage (see deadlines.py for how the instants are computed):

- **acknowledge** (签收): a reminder every `reminder_every` from the start until it is
  acknowledged or due; the 80 % warning; at the limit, overdue (urging, escalation, and the
  scheduler asks dispatch to reassign); the public notice if still not done.
- **first_contact**, **resolve**: the warning, overdue at the limit, the public notice.
- **follow_up** (回访): only the end of the window (the appeal closes as `no_feedback`).

A met deadline fires nothing, and neither does one whose stage does not run in the appeal's
status (`RUNNING`): an appeal that was resolved is acknowledged, contacted and answered as far as
its alarms go, whatever path it took there. Catching up after downtime, each alarm fires at most
once, in order, but what has become pointless is skipped (marked done, not sent): a warning or a
reminder whose stage is already overdue, and all but the last of several missed reminders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from services.tracking.deadlines.policy import Stage, StageDeadline
from shared.vocabulary import AppealStatus

S = AppealStatus

# Which stages' deadlines run in each status: only these fire, and the officer's queue is due
# on the nearest of them. A stage outside its statuses is paused (returned: the officer may not
# act while the dispatcher rules; a rejected return resumes it) or over for good.
RUNNING: Mapping[AppealStatus, frozenset[Stage]] = {
    S.RECEIVED: frozenset({Stage.ACKNOWLEDGE, Stage.FIRST_CONTACT, Stage.RESOLVE}),
    S.ASSIGNED: frozenset({Stage.ACKNOWLEDGE, Stage.FIRST_CONTACT, Stage.RESOLVE}),
    S.ACCEPTED: frozenset({Stage.FIRST_CONTACT, Stage.RESOLVE}),
    S.IN_PROGRESS: frozenset({Stage.FIRST_CONTACT, Stage.RESOLVE}),
    # Reopened (重办): accepted again first, so the acknowledgement runs again.
    S.REOPENED: frozenset({Stage.ACKNOWLEDGE, Stage.FIRST_CONTACT, Stage.RESOLVE}),
    # The appellant's resolve limit keeps running while a return waits for its ruling.
    S.RETURNED: frozenset({Stage.RESOLVE}),
    S.RESOLVED: frozenset({Stage.FOLLOW_UP}),
    S.CLOSED: frozenset(),
}
# The officer's own stages (the queue's due time); the follow-up is the hotline's.
OFFICER_STAGES = (Stage.ACKNOWLEDGE, Stage.FIRST_CONTACT, Stage.RESOLVE)


def runs(stage: Stage, status: AppealStatus) -> bool:
    return stage in RUNNING[status]


def running_markdown() -> str:
    """The table as Markdown (for the README)."""
    lines = ["| status | deadlines that run |", "|---|---|"]
    for status in AppealStatus:
        stages = [f"`{stage}`" for stage in Stage if stage in RUNNING[status]]
        lines.append(f"| `{status}` | {', '.join(stages) or '—'} |")
    return "\n".join(lines)


class Alarm(StrEnum):
    REMINDER = "reminder"
    WARNING = "warning"
    OVERDUE = "overdue"
    PUBLIC_NOTICE = "public_notice"
    WINDOW_END = "window_end"


@dataclass(frozen=True)
class DeadlineMarks:
    """A deadline as the scheduler sees it: its instants and what has fired."""

    stage: Stage
    start_at: datetime
    due_at: datetime
    warn_at: datetime
    public_notice_at: datetime
    met_at: datetime | None = None
    reminders_sent: int = 0
    warned_at: datetime | None = None
    urged_at: datetime | None = None  # overdue fired (for follow_up: the window's end)
    noticed_at: datetime | None = None


@dataclass(frozen=True)
class Fired:
    alarm: Alarm
    due: datetime  # the instant it was meant for
    number: int = 0  # reminders: which one


def _reminder_instant(marks: DeadlineMarks, n: int, every: timedelta) -> datetime:
    return marks.start_at + every * n


def _pending(marks: DeadlineMarks, every: timedelta) -> list[tuple[datetime, Alarm, int]]:
    """The alarms not yet fired, with their instants."""
    if marks.met_at is not None:
        return []
    if marks.stage is Stage.FOLLOW_UP:
        return [] if marks.urged_at else [(marks.due_at, Alarm.WINDOW_END, 0)]
    pending: list[tuple[datetime, Alarm, int]] = []
    if marks.stage is Stage.ACKNOWLEDGE and marks.urged_at is None:
        n = marks.reminders_sent + 1
        at = _reminder_instant(marks, n, every)
        if at < marks.due_at:
            pending.append((at, Alarm.REMINDER, n))
    if marks.warned_at is None and marks.urged_at is None:
        pending.append((marks.warn_at, Alarm.WARNING, 0))
    if marks.urged_at is None:
        pending.append((marks.due_at, Alarm.OVERDUE, 0))
    if marks.noticed_at is None:
        pending.append((marks.public_notice_at, Alarm.PUBLIC_NOTICE, 0))
    return sorted(pending, key=lambda p: p[0])


def next_fire_at(marks: DeadlineMarks, every: timedelta) -> datetime | None:
    """When the scheduler should next look at this deadline; None: never again."""
    pending = _pending(marks, every)
    return pending[0][0] if pending else None


def fire(
    marks: DeadlineMarks, now: datetime, every: timedelta
) -> tuple[list[Fired], DeadlineMarks]:
    """The alarms due at `now`, in order, and the marks after firing them."""
    fired: list[Fired] = []
    while True:
        pending = [p for p in _pending(marks, every) if p[0] <= now]
        if not pending:
            return fired, marks
        at, alarm, number = pending[0]
        overdue = now >= marks.due_at
        if alarm is Alarm.REMINDER:
            # Missed several while down: count them all, send the latest only; none once due.
            latest = max(number, (min(now, marks.due_at) - marks.start_at) // every)
            marks = replace(marks, reminders_sent=latest)
            if not overdue:
                fired.append(Fired(alarm, _reminder_instant(marks, latest, every), latest))
        elif alarm is Alarm.WARNING:
            marks = replace(marks, warned_at=now)
            if not overdue:
                fired.append(Fired(alarm, at))
        elif alarm in (Alarm.OVERDUE, Alarm.WINDOW_END):
            marks = replace(marks, urged_at=now)
            fired.append(Fired(alarm, at))
        else:
            marks = replace(marks, noticed_at=now)
            fired.append(Fired(alarm, at))


@dataclass(frozen=True)
class Deadline:
    """One stage's deadline as the appeal holds it: when it is due and by which rule (`due`, from
    the policy), why (`reason`, with the extensions granted), whether it is met, and what has
    fired."""

    due: StageDeadline
    reason: str
    extensions: tuple[Mapping[str, Any], ...] = ()
    met_at: datetime | None = None
    reminders_sent: int = 0
    warned_at: datetime | None = None
    urged_at: datetime | None = None
    noticed_at: datetime | None = None

    @classmethod
    def fresh(cls, due: StageDeadline) -> Deadline:
        """Set (or started afresh): nothing met, nothing fired."""
        return cls(due=due, reason=due.reason)

    @property
    def stage(self) -> Stage:
        return self.due.stage

    @property
    def due_at(self) -> datetime:
        return self.due.due_at

    @property
    def marks(self) -> DeadlineMarks:
        return DeadlineMarks(
            stage=self.due.stage,
            start_at=self.due.start,
            due_at=self.due.due_at,
            warn_at=self.due.warn_at,
            public_notice_at=self.due.public_notice_at,
            met_at=self.met_at,
            reminders_sent=self.reminders_sent,
            warned_at=self.warned_at,
            urged_at=self.urged_at,
            noticed_at=self.noticed_at,
        )

    def marked(self, marks: DeadlineMarks) -> Deadline:
        """What has fired, as `fire` left it."""
        return replace(
            self,
            reminders_sent=marks.reminders_sent,
            warned_at=marks.warned_at,
            urged_at=marks.urged_at,
            noticed_at=marks.noticed_at,
        )

    def met(self, at: datetime) -> Deadline:
        """Done (the first time counts); nothing more fires for it."""
        return self if self.met_at is not None else replace(self, met_at=at)

    def extended(self, due: StageDeadline, extension: Mapping[str, Any], now: datetime) -> Deadline:
        """An extension granted: the instants move, and what now lies in the future may fire
        again; the extension is kept with its reason."""
        days = extension["working_days"]
        return replace(
            self,
            due=due,
            reason=f"{self.reason}; extended by {days} working days",
            extensions=(*self.extensions, extension),
            warned_at=self.warned_at if due.warn_at <= now else None,
            urged_at=self.urged_at if due.due_at <= now else None,
            noticed_at=self.noticed_at if due.public_notice_at <= now else None,
        )

    def next_fire_at(self, status: AppealStatus, every: timedelta) -> datetime | None:
        """When the scheduler should next look at it in `status`; None: not while so."""
        if not runs(self.stage, status):
            return None
        return next_fire_at(self.marks, every)

    def fire(
        self, status: AppealStatus, now: datetime, every: timedelta
    ) -> tuple[list[Fired], Deadline]:
        """The alarms due at `now` in `status` (none for a stage that does not run in it)."""
        if not runs(self.stage, status):
            return [], self
        fired, marks = fire(self.marks, now, every)
        return fired, self.marked(marks)
