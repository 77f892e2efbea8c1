"""Working days in mainland China: weekends, holidays, adjusted working days (调休), the override
file, and years no calendar package covers yet."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from services.tracking.deadlines.working_days import (
    DAY_END,
    SHANGHAI,
    CalendarConfigError,
    CalendarOverrides,
    DaySource,
    WorkingCalendar,
    end_of_day,
    load_overrides,
    shipped_overrides,
)

CAL = WorkingCalendar()


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def only_until_2026(day: date) -> bool:
    """chinese-calendar as 1.11.0 is, whatever version is installed."""
    if day.year > 2026:
        raise NotImplementedError(f"no available data for year {day.year}")
    return chinese_calendar.is_workday(day)


def estimated(year: int) -> float:
    value = REGISTRY.get_sample_value(
        "jiban_working_calendar_estimated_years_total", {"year": str(year)}
    )
    return value or 0.0


# --- ordinary weeks ----------------------------------------------------------------------------


def test_weekends_are_off_and_weekdays_work():
    # 2026-03-09 is a Monday with no holiday around it.
    assert [CAL.is_working_day(date(2026, 3, d)) for d in range(9, 16)] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_n_working_days_end_at_the_end_of_the_nth_working_day_after_the_day_of_receipt():
    friday = at(2026, 3, 13, 9, 30)
    assert CAL.add_working_days(friday, 1) == end_of_day(date(2026, 3, 16))
    assert CAL.add_working_days(friday, 5) == end_of_day(date(2026, 3, 20))
    assert CAL.add_working_days(friday, 1).time() == time(23, 59, 59, 999999)
    # Received on a Saturday: the Monday is the first working day after it.
    assert CAL.add_working_days(at(2026, 3, 14, 23, 59), 1) == end_of_day(date(2026, 3, 16))
    # The hour of receipt does not matter: the day of receipt never counts.
    assert CAL.add_working_days(at(2026, 3, 10, 0, 1), 2) == CAL.add_working_days(
        at(2026, 3, 10, 23, 58), 2
    )


def test_the_day_of_receipt_is_the_day_in_shanghai_not_in_utc():
    # 2026-03-13 17:00 UTC is Saturday 01:00 in Shanghai.
    received = datetime(2026, 3, 13, 17, 0, tzinfo=UTC)
    assert CAL.add_working_days(received, 1) == end_of_day(date(2026, 3, 16))
    # 2026-03-13 15:00 UTC is still Friday 23:00 in Shanghai.
    assert CAL.add_working_days(datetime(2026, 3, 13, 15, tzinfo=UTC), 1) == end_of_day(
        date(2026, 3, 16)
    )


def test_naive_datetimes_and_non_positive_counts_are_refused():
    with pytest.raises(ValueError, match="naive"):
        CAL.add_working_days(datetime(2026, 3, 13, 10), 1)
    with pytest.raises(ValueError, match="at least 1"):
        CAL.add_working_days(at(2026, 3, 13), 0)


def test_working_days_between_counts_after_the_first_day_up_to_the_last():
    assert CAL.working_days_between(at(2026, 3, 13), at(2026, 3, 20)) == 5
    assert CAL.working_days_between(at(2026, 3, 13), at(2026, 3, 13, 23)) == 0
    assert CAL.working_days_between(at(2026, 3, 20), at(2026, 3, 13)) == 0


# --- holidays and adjusted working days from chinese-calendar --------------------------------


def test_national_day_2026_is_off_and_its_adjusted_saturday_works():
    assert not any(CAL.is_working_day(date(2026, 10, d)) for d in range(1, 8))
    assert CAL.source(date(2026, 10, 1)) is DaySource.CHINESE_CALENDAR
    received = at(2026, 9, 30, 16)  # Wednesday, the eve of the holiday
    assert CAL.add_working_days(received, 1) == end_of_day(date(2026, 10, 8))
    # 8 and 9 October, then Saturday 10 October is worked in exchange (调休).
    assert CAL.add_working_days(received, 3) == end_of_day(date(2026, 10, 10))
    assert CAL.add_working_days(received, 4) == end_of_day(date(2026, 10, 12))


def test_spring_festival_2026_with_its_two_working_saturdays():
    assert not any(CAL.is_working_day(date(2026, 2, d)) for d in range(15, 24))
    received = at(2026, 2, 13)  # Friday
    assert CAL.add_working_days(received, 1) == end_of_day(date(2026, 2, 14))  # Saturday, worked
    assert CAL.add_working_days(received, 2) == end_of_day(date(2026, 2, 24))
    assert CAL.working_days_between(at(2026, 2, 13), at(2026, 2, 28)) == 6  # 14, 24–27, 28


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ],
)
def test_the_2026_weekend_days_that_are_working_days(day):
    assert day.weekday() >= 5
    assert CAL.is_working_day(day)


# --- the year boundary: a year chinese-calendar does not cover ------------------------------


def test_a_deadline_running_into_2027_does_not_crash_and_skips_new_year():
    calendar = WorkingCalendar()
    received = at(2026, 12, 28, 10)  # Monday
    # 29, 30, 31 December; 1 January 2027 (Friday) is a holiday; 4 and 5 January.
    assert calendar.add_working_days(received, 5) == end_of_day(date(2027, 1, 5))
    assert not calendar.is_working_day(date(2027, 1, 1))
    assert calendar.add_working_days(received, 15).date().year == 2027


def test_an_uncovered_year_is_estimated_from_the_holidays_package():
    calendar = WorkingCalendar(primary=only_until_2026)
    assert calendar.source(date(2026, 12, 31)) is DaySource.CHINESE_CALENDAR
    assert calendar.source(date(2027, 1, 1)) is DaySource.ESTIMATED
    assert not calendar.is_working_day(date(2027, 1, 1))  # New Year's Day per `holidays`
    assert not calendar.is_working_day(date(2027, 10, 1))  # National Day, a Friday
    assert calendar.is_working_day(date(2027, 1, 4))
    assert not calendar.is_working_day(date(2027, 1, 9))  # a Saturday
    # Received on New Year's Eve 2026 at 23:30 Shanghai; 1 January is off.
    received = datetime(2026, 12, 31, 15, 30, tzinfo=UTC)
    assert calendar.add_working_days(received, 1) == end_of_day(date(2027, 1, 4))
    assert calendar.estimated_years() == {2027}


def test_the_warning_is_logged_once_per_uncovered_year_and_counted(caplog):
    calendar = WorkingCalendar(primary=only_until_2026)
    before = {year: estimated(year) for year in (2030, 2031)}
    with caplog.at_level(logging.WARNING, logger="services.tracking.deadlines.working_days"):
        for month in range(1, 13):
            calendar.is_working_day(date(2030, month, 15))
        calendar.add_working_days(at(2030, 12, 1), 40)  # runs into 2031
        calendar.working_days_between(at(2030, 1, 1), at(2031, 6, 1))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.year for r in warnings] == [2030, 2031]
    assert "estimated" in warnings[0].getMessage()
    assert estimated(2030) == before[2030] + 1
    assert estimated(2031) == before[2031] + 1
    # A covered year neither warns nor counts.
    caplog.clear()
    calendar.is_working_day(date(2026, 6, 1))
    assert not caplog.records


def test_a_failing_holidays_package_leaves_monday_to_friday(caplog):
    def broken(year: int):
        raise RuntimeError("no data")

    calendar = WorkingCalendar(primary=only_until_2026, estimate=broken)
    with caplog.at_level(logging.WARNING, logger="services.tracking.deadlines.working_days"):
        assert calendar.is_working_day(date(2027, 1, 1))  # a Friday: nobody knows better
    assert not calendar.is_working_day(date(2027, 1, 2))
    assert calendar.source(date(2027, 1, 1)) is DaySource.WEEKDAYS
    assert "failed too" in caplog.records[0].getMessage()


def test_a_broken_primary_source_is_logged_and_estimated(caplog):
    def broken(day: date) -> bool:
        raise KeyError(day)

    calendar = WorkingCalendar(primary=broken)
    with caplog.at_level(logging.WARNING, logger="services.tracking.deadlines.working_days"):
        assert not calendar.is_working_day(date(2026, 10, 1))  # `holidays` knows National Day
    assert calendar.source(date(2026, 10, 1)) is DaySource.ESTIMATED
    assert {r.levelname for r in caplog.records} == {"ERROR", "WARNING"}


# --- the override file -------------------------------------------------------------------------


OVERRIDES = """\
working_days:
  - {date: 2027-02-20, note: 春节调休上班}
  - 2026-03-14
days_off:
  - {date: 2027-02-11, note: 春节}
  - "2026-03-16"
"""


def test_the_override_file_declares_working_days_and_days_off(tmp_path):
    path = tmp_path / "overrides.yaml"
    path.write_text(OVERRIDES, encoding="utf-8")
    calendar = WorkingCalendar.from_file(path, primary=only_until_2026)
    # 2027, not covered: a Saturday worked in exchange, a Thursday off.
    assert calendar.is_working_day(date(2027, 2, 20))
    assert not calendar.is_working_day(date(2027, 2, 11))
    assert calendar.source(date(2027, 2, 20)) is DaySource.OVERRIDE
    assert calendar.note(date(2027, 2, 20)) == "春节调休上班"
    assert calendar.source(date(2027, 2, 22)) is DaySource.ESTIMATED
    # 2026, covered: the file still wins over chinese-calendar.
    assert calendar.is_working_day(date(2026, 3, 14))  # a Saturday
    assert not calendar.is_working_day(date(2026, 3, 16))  # a Monday
    assert calendar.add_working_days(at(2026, 3, 13), 2) == end_of_day(date(2026, 3, 17))
    # 2027-02-10 is `holidays`' last Spring Festival day; 11 off by the file; 12 Friday works.
    assert calendar.add_working_days(at(2027, 2, 10), 1) == end_of_day(date(2027, 2, 12))
    # Friday 19 February: the next working day is the Saturday the file declares.
    assert calendar.add_working_days(at(2027, 2, 19), 1) == end_of_day(date(2027, 2, 20))


def test_a_complete_year_in_the_override_file_is_not_estimated(caplog):
    overrides = {"days_off": [date(2027, 1, 1)], "complete_years": [2027]}
    calendar = WorkingCalendar(overrides, primary=only_until_2026)
    with caplog.at_level(logging.WARNING, logger="services.tracking.deadlines.working_days"):
        assert not calendar.is_working_day(date(2027, 1, 1))
        assert calendar.is_working_day(date(2027, 10, 1))  # not declared off: Monday–Friday
    assert calendar.source(date(2027, 10, 1)) is DaySource.COMPLETE_YEAR
    assert not caplog.records
    assert calendar.estimated_years() == frozenset()


def test_the_shipped_override_file_loads_and_declares_nothing():
    assert shipped_overrides() == CalendarOverrides()
    assert WorkingCalendar.from_file().is_working_day(date(2026, 2, 14))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("off: [2027-01-01]", "YAML boolean"),
        ("working_days: [2027-01-04]\ndays_off: [2027-01-04]", "both working and off"),
        ("working_days: [2027-13-01]", "not a date"),
        ("working_days: [2027-01-04, 2027-01-04]", "listed twice"),
        ("holidays: []", "unknown key"),
        ("days_off: 2027-01-01", "expected a list"),
        ("working_days: [{date: 2027-01-04, reason: x}]", "unknown keys"),
        ("complete_years: 2027", "complete_years"),
        ("[1, 2]", "expected a mapping"),
        ("working_days: [", "not valid YAML"),
    ],
)
def test_a_bad_override_file_is_refused_naming_the_problem(text, problem):
    with pytest.raises(CalendarConfigError, match=problem):
        load_overrides(text)


def test_an_unreadable_override_file_is_refused(tmp_path):
    with pytest.raises(CalendarConfigError, match="cannot read"):
        WorkingCalendar.from_file(tmp_path / "missing.yaml")


def test_an_override_file_with_no_working_day_for_months_is_refused():
    days_off = [date(2026, 3, 1) + timedelta(days=i) for i in range(120)]
    calendar = WorkingCalendar({"days_off": days_off})
    with pytest.raises(CalendarConfigError, match="no working day"):
        calendar.add_working_days(at(2026, 3, 1), 1)


# --- properties --------------------------------------------------------------------------------

PROPERTY_CAL = WorkingCalendar(primary=only_until_2026)

receipts = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(received=receipts, n=st.integers(1, 40), more=st.integers(1, 20))
def test_add_working_days_is_monotonic_and_lands_on_the_end_of_a_working_day(received, n, more):
    due = PROPERTY_CAL.add_working_days(received, n)
    later = PROPERTY_CAL.add_working_days(received, n + more)
    assert due < later
    assert due > received
    assert due.tzinfo is SHANGHAI and due.time() == DAY_END
    assert PROPERTY_CAL.is_working_day(due.date())
    assert PROPERTY_CAL.working_days_between(received, due) == n
