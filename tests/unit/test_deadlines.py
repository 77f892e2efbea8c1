"""Deadline policy: the strictest applicable limit, the 80 % warning, the public notice,
extensions."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest

from services.tracking.deadlines.policy import (
    DeadlinePolicy,
    Dimension,
    ExtensionRefused,
    Limit,
    LimitUnit,
    PolicyError,
    Stage,
    warning_instant,
)
from services.tracking.deadlines.working_days import SHANGHAI, WorkingCalendar, end_of_day
from shared.vocabulary import AppealType, Category, Urgency


def only_until_2026(day: date) -> bool:
    if day.year > 2026:
        raise NotImplementedError(f"no available data for year {day.year}")
    return chinese_calendar.is_workday(day)


CAL = WorkingCalendar(primary=only_until_2026)
POLICY = DeadlinePolicy.default()


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


MONDAY = at(2026, 3, 9)  # no holiday for weeks around it
FRIDAY = at(2026, 3, 13)


# --- the default table -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("appeal_type", "days"),
    [
        (AppealType.CONSULTATION, 2),
        (AppealType.HELP, 10),
        (AppealType.SUGGESTION, 10),
        (AppealType.COMPLAINT, 15),
        (AppealType.REPORT, 15),
    ],
)
def test_guangdong_limits_per_type_in_working_days(appeal_type, days):
    resolve = POLICY.schedule(appeal_type, Urgency.NORMAL, Category.OTHER, MONDAY, CAL).resolve
    assert resolve.due_at == CAL.add_working_days(MONDAY, days)
    assert resolve.rule.dimension is Dimension.TYPE
    assert resolve.reason == f"{appeal_type}: {days} working days"


def test_acknowledge_within_24_hours_by_the_clock_even_over_a_weekend():
    ack = POLICY.schedule("help", "normal", "other", FRIDAY, CAL).acknowledge
    assert ack.due_at == FRIDAY + timedelta(hours=24)  # Saturday 10:00
    assert ack.reason == "default: 24 hours"


# --- the strictest applicable limit wins --------------------------------------------------------


@pytest.mark.parametrize(
    ("appeal_type", "urgency", "category", "received", "reason", "due"),
    [
        ("complaint", "normal", "other", MONDAY, "complaint: 15 working days", None),
        (
            "complaint",
            "emergency",
            "other",
            MONDAY,
            "emergency: 2 hours (stricter than complaint: 15 working days)",
            MONDAY + timedelta(hours=2),
        ),
        (
            "complaint",
            "normal",
            "utilities",
            MONDAY,
            "utilities: 24 hours (stricter than complaint: 15 working days)",
            MONDAY + timedelta(hours=24),
        ),
        (
            "complaint",
            "emergency",
            "utilities",
            MONDAY,
            "emergency: 2 hours (stricter than utilities: 24 hours, complaint: 15 working days)",
            MONDAY + timedelta(hours=2),
        ),
        # A consultation's 2 working days from a Friday end on Tuesday; 24 hours is Saturday.
        (
            "consultation",
            "normal",
            "utilities",
            FRIDAY,
            "utilities: 24 hours (stricter than consultation: 2 working days)",
            FRIDAY + timedelta(hours=24),
        ),
        # `urgent` has no limit of its own by default.
        ("report", "urgent", "permits", MONDAY, "report: 15 working days", None),
    ],
)
def test_the_strictest_limit_wins_and_says_what_it_beat(
    appeal_type, urgency, category, received, reason, due
):
    resolve = POLICY.schedule(appeal_type, urgency, category, received, CAL).resolve
    assert resolve.reason == reason
    assert resolve.due_at == (due or CAL.add_working_days(received, 15))
    assert resolve.due_at == min(c.due_at for c in resolve.candidates)


def test_a_working_day_limit_can_beat_an_hour_limit_it_depends_on_the_receipt():
    policy = DeadlinePolicy.from_mapping(
        {"stages": {"resolve": {"category": {"utilities": "72h"}}}}
    )
    # From a Monday: 2 working days end Wednesday 24:00, 72 hours is Thursday 10:00.
    monday = policy.schedule("consultation", "normal", "utilities", MONDAY, CAL).resolve
    assert monday.reason == "consultation: 2 working days (stricter than utilities: 72 hours)"
    # From a Friday: 72 hours is Monday 10:00, 2 working days end Tuesday.
    friday = policy.schedule("consultation", "normal", "utilities", FRIDAY, CAL).resolve
    assert friday.rule.dimension is Dimension.CATEGORY


def test_ties_go_to_urgency_then_category_then_type():
    policy = DeadlinePolicy.from_mapping(
        {"stages": {"resolve": {"urgency": {"urgent": "24 hours"}}}}
    )
    resolve = policy.schedule("complaint", "urgent", "utilities", MONDAY, CAL).resolve
    assert resolve.rule.dimension is Dimension.URGENCY
    assert [c.rule.dimension for c in resolve.candidates] == [
        Dimension.URGENCY,
        Dimension.CATEGORY,
        Dimension.TYPE,
    ]


def test_an_emergency_is_acknowledged_and_contacted_no_later_than_it_is_resolved():
    schedule = POLICY.schedule("help", "emergency", "public_safety", MONDAY, CAL)
    two_hours = MONDAY + timedelta(hours=2)
    assert schedule.acknowledge.due_at == two_hours
    assert schedule.acknowledge.capped_by is Stage.RESOLVE
    assert schedule.acknowledge.reason == (
        "capped by resolve: emergency: 2 hours (stricter than default: 24 hours)"
    )
    assert schedule.first_contact.due_at == two_hours
    assert schedule.first_contact.capped_by is None  # its own emergency rule
    # Not capped when the resolution is later.
    assert POLICY.schedule("help", "normal", "other", MONDAY, CAL).acknowledge.capped_by is None


def test_the_follow_up_counts_from_the_resolution_or_else_from_the_resolve_due():
    before = POLICY.schedule("consultation", "normal", "other", MONDAY, CAL)
    assert before.follow_up.start_basis == "resolve due"
    assert before.follow_up.start == before.resolve.due_at
    assert before.follow_up.due_at == CAL.add_working_days(before.resolve.due_at, 5)
    resolved_at = at(2026, 3, 9, 15)
    after = POLICY.schedule("consultation", "normal", "other", MONDAY, CAL, resolved_at=resolved_at)
    assert after.follow_up.start_basis == "resolved"
    assert after.follow_up.due_at == end_of_day(date(2026, 3, 16))
    assert after[Stage.FOLLOW_UP] == after.follow_up
    assert [d.stage for d in after] == list(Stage)


def test_a_deadline_running_into_2027_is_computed_with_the_estimated_calendar():
    received = at(2026, 12, 28)
    resolve = POLICY.schedule("complaint", "normal", "other", received, CAL).resolve
    # 29–31 Dec (3), 1 Jan off, then 12 working days of January 2027.
    assert resolve.due_at == end_of_day(date(2027, 1, 19))
    assert resolve.public_notice_at == end_of_day(date(2027, 1, 26))


# --- the 80 % warning and the public notice ----------------------------------------------------


@pytest.mark.parametrize(
    ("appeal_type", "warn_at"),
    [
        ("complaint", end_of_day(date(2026, 3, 25))),  # end of the 12th working day of 15
        ("help", end_of_day(date(2026, 3, 19))),  # end of the 8th of 10
        ("consultation", at(2026, 3, 11, 14, 24)),  # 1.6 working days: 14:24 on the 2nd
    ],
)
def test_the_warning_comes_at_80_percent_of_the_working_days(appeal_type, warn_at):
    resolve = POLICY.schedule(appeal_type, "normal", "other", MONDAY, CAL).resolve
    assert resolve.warn_at == warn_at


def test_weekends_and_holidays_do_not_eat_into_the_warning_period():
    # Received on the eve of National Day 2026: 8 and 9 October are the two working days.
    resolve = POLICY.schedule("consultation", "normal", "other", at(2026, 9, 30), CAL).resolve
    assert resolve.due_at == end_of_day(date(2026, 10, 9))
    assert resolve.warn_at == at(2026, 10, 9, 14, 24)


def test_the_warning_of_a_clock_limit_is_80_percent_of_the_wall_clock_span():
    schedule = POLICY.schedule("help", "emergency", "other", MONDAY, CAL)
    assert schedule.resolve.warn_at == MONDAY + timedelta(minutes=96)
    assert schedule.acknowledge.warn_at == MONDAY + timedelta(minutes=96)  # capped: 2 hours
    ack = POLICY.schedule("help", "normal", "other", MONDAY, CAL).acknowledge
    assert ack.warn_at == MONDAY + timedelta(hours=19, minutes=12)


def test_warning_instant_with_another_fraction():
    due = CAL.add_working_days(MONDAY, 10)
    assert warning_instant(
        MONDAY, due, working_time=True, calendar=CAL, fraction=0.5
    ) == end_of_day(date(2026, 3, 16))
    assert warning_instant(MONDAY, MONDAY + timedelta(hours=10), working_time=False, calendar=CAL,
                           fraction=0.5) == MONDAY + timedelta(hours=5)  # fmt: skip


def test_the_public_notice_comes_5_working_days_after_the_limit():
    resolve = POLICY.schedule("consultation", "normal", "other", FRIDAY, CAL).resolve
    assert resolve.due_at == end_of_day(date(2026, 3, 17))  # Tuesday
    assert resolve.public_notice_at == end_of_day(date(2026, 3, 24))
    emergency = POLICY.schedule("help", "emergency", "other", FRIDAY, CAL).resolve
    assert emergency.public_notice_at == end_of_day(date(2026, 3, 20))
    assert emergency.is_overdue(FRIDAY + timedelta(hours=2, microseconds=1))
    assert not emergency.is_overdue(FRIDAY + timedelta(hours=2))


# --- extensions --------------------------------------------------------------------------------


def test_an_extension_moves_the_due_the_warning_and_the_public_notice():
    resolve = POLICY.schedule("help", "normal", "other", MONDAY, CAL).resolve
    assert resolve.due_at == end_of_day(date(2026, 3, 23))
    extended = POLICY.extend(
        resolve, 5, requested_at=at(2026, 3, 20), reason="等待供电局现场勘查", calendar=CAL
    )
    assert extended.due_at == end_of_day(date(2026, 3, 30))
    assert extended.warn_at == end_of_day(date(2026, 3, 25))  # the 12th of 15 working days
    assert extended.public_notice_at == end_of_day(date(2026, 4, 7))  # after Qingming (4–6)
    assert (
        extended.reason == "help: 10 working days; extended by 5 working days: 等待供电局现场勘查"
    )
    assert extended.extensions[0].previous_due_at == resolve.due_at
    again = POLICY.extend(extended, 1, requested_at=at(2026, 3, 30), reason="再等", calendar=CAL)
    assert again.due_at == end_of_day(date(2026, 3, 31))
    assert len(again.extensions) == 2


def test_an_extension_of_a_clock_deadline_counts_from_the_day_it_falls_on():
    resolve = POLICY.schedule("help", "emergency", "other", FRIDAY, CAL).resolve
    extended = POLICY.extend(resolve, 1, requested_at=FRIDAY, reason="抢修", calendar=CAL)
    assert extended.due_at == end_of_day(date(2026, 3, 16))


@pytest.mark.parametrize(
    ("days", "requested_at", "reason", "problem"),
    [
        (3, end_of_day(date(2026, 3, 11)) + timedelta(microseconds=1), "x", "before the deadline"),
        (0, MONDAY, "x", "at least 1"),
        (2, MONDAY, "  ", "needs a reason"),
    ],
)
def test_an_extension_is_refused_late_empty_or_without_a_reason(
    days, requested_at, reason, problem
):
    resolve = POLICY.schedule("consultation", "normal", "other", MONDAY, CAL).resolve
    with pytest.raises(ExtensionRefused, match=problem):
        POLICY.extend(resolve, days, requested_at=requested_at, reason=reason, calendar=CAL)


# --- configuration -----------------------------------------------------------------------------


def test_the_policy_is_overridden_by_a_mapping_merged_into_the_defaults():
    policy = DeadlinePolicy.from_mapping(
        {
            "warn_fraction": 0.75,
            "public_notice_after_working_days": 3,
            "stages": {
                "resolve": {"category": {"utilities": None, "drainage_roads": "48 hours"}},
                "first_contact": {"default": "30 minutes"},
            },
        }
    )
    resolve = policy.schedule("complaint", "normal", "utilities", MONDAY, CAL).resolve
    assert resolve.reason == "complaint: 15 working days"  # utilities removed
    drain = policy.schedule("complaint", "normal", "drainage_roads", MONDAY, CAL).resolve
    assert drain.due_at == MONDAY + timedelta(hours=48)
    assert drain.warn_at == MONDAY + timedelta(hours=36)
    assert drain.public_notice_at == end_of_day(date(2026, 3, 14 + 2))  # Wed + 3 working days
    contact = policy.schedule("complaint", "normal", "other", MONDAY, CAL).first_contact
    assert contact.due_at == MONDAY + timedelta(minutes=30)
    # The defaults are untouched.
    assert POLICY.schedule("complaint", "normal", "utilities", MONDAY, CAL).resolve.rule.value == (
        "utilities"
    )


def test_a_bad_policy_is_refused_with_every_problem():
    with pytest.raises(PolicyError) as caught:
        DeadlinePolicy.from_mapping(
            {
                "warn_fraction": 1.5,
                "escalate": True,
                "stages": {
                    "triage": {"default": "1 hour"},
                    "acknowledge": {"default": "soon"},
                    "resolve": {"category": {"weather": "1 hour"}, "type": {"help": "0 hours"}},
                    "follow_up": {"default": None},
                },
            }
        )
    text = str(caught.value)
    for problem in (
        "warn_fraction",
        "escalate: unknown key",
        "stages.triage: unknown stage",
        "stages.acknowledge.default: 'soon' is not a limit",
        "stages.resolve.category.weather: unknown category",
        "stages.resolve.type.help",
        "stages.follow_up: no default and no limit for type",
    ):
        assert problem in text
    assert len(caught.value.problems) >= 7


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        ("15 working days", Limit(15, LimitUnit.WORKING_DAYS), "15 working days"),
        ("1 working day", Limit.working_days(1), "1 working day"),
        ("15wd", Limit.working_days(15), "15 working days"),
        ("2 hours", Limit.hours(2), "2 hours"),
        ("24h", Limit.hours(24), "24 hours"),
        ("1 hour", Limit.hours(1), "1 hour"),
        ("30 minutes", Limit.minutes(30), "30 minutes"),
        ("30min", Limit.minutes(30), "30 minutes"),
    ],
)
def test_limits_read_and_print(text, limit, shown):
    assert Limit.parse(text) == limit
    assert str(limit) == shown


def test_a_deadline_is_recorded_as_json():
    schedule = POLICY.schedule("complaint", "emergency", "utilities", MONDAY, CAL)
    extended = POLICY.extend(schedule.resolve, 2, requested_at=MONDAY, reason="r", calendar=CAL)
    record = json.loads(json.dumps(extended.to_record()))
    assert record["rule"] == {"dimension": "urgency", "value": "emergency", "limit": "2 hours"}
    assert [c["rule"] for c in record["candidates"]] == [
        "emergency: 2 hours",
        "utilities: 24 hours",
        "complaint: 15 working days",
    ]
    assert record["extensions"][0]["working_days"] == 2
    assert record["reason"].startswith("emergency: 2 hours (stricter than")
