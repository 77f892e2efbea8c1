"""What a deadline fires and when (alarms.py): each alarm once, in order; what has become
pointless after downtime is skipped; a met deadline fires nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.tracking.deadlines.alarms import Alarm, DeadlineMarks, fire, next_fire_at
from services.tracking.deadlines.policy import Stage

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
EVERY = 4 * HOUR


def ack(**kw) -> DeadlineMarks:
    values = {
        "stage": Stage.ACKNOWLEDGE,
        "start_at": T0,
        "due_at": T0 + 24 * HOUR,
        "warn_at": T0 + timedelta(hours=19, minutes=12),
        "public_notice_at": T0 + 24 * HOUR * 7,
    }
    return DeadlineMarks(**{**values, **kw})


def test_acknowledgement_reminders_come_every_interval_until_the_warning_and_the_limit():
    marks = ack()
    seen: list[tuple[Alarm, int]] = []
    now = T0
    while (at := next_fire_at(marks, EVERY)) is not None and at < T0 + 30 * HOUR:
        now = at
        fired, marks = fire(marks, now, EVERY)
        seen += [(f.alarm, f.number) for f in fired]
    assert seen == [
        (Alarm.REMINDER, 1),
        (Alarm.REMINDER, 2),
        (Alarm.REMINDER, 3),
        (Alarm.REMINDER, 4),
        (Alarm.WARNING, 0),
        (Alarm.REMINDER, 5),
        (Alarm.OVERDUE, 0),
    ]
    assert next_fire_at(marks, EVERY) == T0 + 24 * HOUR * 7  # the public notice is left


def test_after_downtime_only_the_latest_reminder_goes_and_a_pointless_warning_is_skipped():
    fired, marks = fire(ack(), T0 + 13 * HOUR, EVERY)
    assert [(f.alarm, f.number) for f in fired] == [(Alarm.REMINDER, 3)]
    assert marks.reminders_sent == 3
    # Down past the limit: the overdue fires, the warning and reminders do not.
    fired, marks = fire(ack(), T0 + 30 * HOUR, EVERY)
    assert [f.alarm for f in fired] == [Alarm.OVERDUE]
    assert marks.warned_at is not None and marks.urged_at is not None
    # Down past the public notice: overdue and the notice, in order.
    fired, _ = fire(ack(), T0 + 24 * HOUR * 8, EVERY)
    assert [f.alarm for f in fired] == [Alarm.OVERDUE, Alarm.PUBLIC_NOTICE]


def test_a_met_deadline_fires_nothing_ever():
    marks = ack(met_at=T0 + HOUR)
    assert next_fire_at(marks, EVERY) is None
    assert fire(marks, T0 + 24 * HOUR * 30, EVERY) == ([], marks)


@pytest.mark.parametrize("stage", [Stage.FIRST_CONTACT, Stage.RESOLVE])
def test_other_stages_warn_urge_and_notice_without_reminders(stage):
    marks = ack(stage=stage)
    fired, marks = fire(marks, T0 + 20 * HOUR, EVERY)
    assert [f.alarm for f in fired] == [Alarm.WARNING]
    fired, marks = fire(marks, T0 + 25 * HOUR, EVERY)
    assert [f.alarm for f in fired] == [Alarm.OVERDUE]
    fired, marks = fire(marks, T0 + 24 * HOUR * 7, EVERY)
    assert [f.alarm for f in fired] == [Alarm.PUBLIC_NOTICE]
    assert next_fire_at(marks, EVERY) is None


def test_the_follow_up_window_only_ends():
    marks = ack(stage=Stage.FOLLOW_UP)
    assert next_fire_at(marks, EVERY) == marks.due_at
    assert fire(marks, marks.due_at - HOUR, EVERY)[0] == []
    fired, marks = fire(marks, marks.due_at, EVERY)
    assert [f.alarm for f in fired] == [Alarm.WINDOW_END]
    assert next_fire_at(marks, EVERY) is None


@settings(max_examples=200, deadline=None)
@given(
    stage=st.sampled_from(list(Stage)),
    steps=st.lists(st.integers(min_value=0, max_value=24 * 60 * 9), max_size=12),
)
def test_whatever_the_polling_each_alarm_fires_at_most_once_and_never_early(stage, steps):
    marks = ack(stage=stage)
    fired_all = []
    for minutes in sorted(steps):
        now = T0 + timedelta(minutes=minutes)
        fired, marks = fire(marks, now, EVERY)
        assert all(f.due <= now for f in fired)
        fired_all += fired
    once = [f.alarm for f in fired_all if f.alarm is not Alarm.REMINDER]
    assert len(once) == len(set(once))
    numbers = [f.number for f in fired_all if f.alarm is Alarm.REMINDER]
    assert numbers == sorted(set(numbers))
