"""What a deadline fires, and when. Pure: the scheduler hands in a deadline's row and the time,
and gets back the alarms due now and the row's new markers; it stores both in one transaction.

Per stage (see deadlines.py for how the instants are computed):

- **acknowledge** (签收): a reminder every `reminder_every` from the start until it is
  acknowledged or due; the 80 % warning; at the limit, overdue (urging, escalation, and the
  scheduler asks dispatch to reassign); the public notice if still not done.
- **first_contact**, **resolve**: the warning, overdue at the limit, the public notice.
- **follow_up** (回访): only the end of the window (the appeal closes as `no_feedback`).

A met deadline fires nothing. Catching up after downtime, each alarm fires at most once, in
order, but what has become pointless is skipped (marked done, not sent): a warning or a reminder
whose stage is already overdue, and all but the last of several missed reminders.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from services.tracking.deadlines import Stage


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
