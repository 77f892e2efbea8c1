"""The five ones' pure rules: Shanghai months and their bounds, the reminder day, each CSO's
status from the facts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.tracking.five_ones.rules import (
    CsoFacts,
    EnterpriseRef,
    needs_reminder,
    reminder_day,
    reminder_due,
    status_of,
    statuses,
)
from services.tracking.periods import Month
from shared.clock import ZONE


def test_a_month_parses_and_prints_as_yyyy_mm() -> None:
    assert Month.parse("2026-11") == Month(2026, 11)
    assert str(Month(2026, 3)) == "2026-03"
    assert str(Month.parse(" 2027-01 ")) == "2027-01"


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "", "x"])
def test_anything_else_is_not_a_month(text: str) -> None:
    with pytest.raises(ValueError):
        Month.parse(text)


def test_a_month_runs_from_shanghai_midnight_to_the_next_months() -> None:
    november = Month(2026, 11)
    assert november.start == datetime(2026, 11, 1, tzinfo=ZONE)
    # Shanghai is UTC+8: the month starts the evening before in UTC.
    assert november.start.astimezone(UTC) == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert november.end == datetime(2026, 12, 1, tzinfo=ZONE)
    assert (november.first_day, november.last_day) == (date(2026, 11, 1), date(2026, 11, 30))


def test_december_ends_at_january_of_the_next_year() -> None:
    december = Month(2026, 12)
    assert december.next() == Month(2027, 1)
    assert december.end == datetime(2027, 1, 1, tzinfo=ZONE)
    assert december.last_day == date(2026, 12, 31)


def test_february_has_28_or_29_days() -> None:
    assert Month(2026, 2).last_day == date(2026, 2, 28)
    assert Month(2028, 2).last_day == date(2028, 2, 29)
    assert Month(2100, 2).last_day == date(2100, 2, 28)  # not a leap year
    assert Month(2028, 2).end == datetime(2028, 3, 1, tzinfo=ZONE)


def test_an_instant_belongs_to_its_shanghai_month() -> None:
    # 2026-11-30 17:00 UTC is already 1 December in Shanghai.
    assert Month.of(datetime(2026, 11, 30, 17, tzinfo=UTC)) == Month(2026, 12)
    assert Month.of(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == Month(2026, 11)
    assert Month.of(date(2026, 2, 28)) == Month(2026, 2)
    with pytest.raises(ValueError):
        Month.of(datetime(2026, 11, 30, 12))  # naive: which zone?


def test_the_reminder_day_is_n_days_before_the_last_day() -> None:
    assert reminder_day(Month(2026, 11), 3) == date(2026, 11, 27)
    assert reminder_day(Month(2026, 12), 3) == date(2026, 12, 28)
    assert reminder_day(Month(2026, 2), 3) == date(2026, 2, 25)
    assert reminder_day(Month(2028, 2), 3) == date(2028, 2, 26)
    assert reminder_day(Month(2026, 11), 0) == date(2026, 11, 30)
    assert reminder_day(Month(2026, 2), 27) == date(2026, 2, 1)
    with pytest.raises(ValueError):
        reminder_day(Month(2026, 2), 28)


def test_reminders_are_due_from_the_reminder_day_in_shanghai() -> None:
    # The reminder day of November 2026 (3 days before its end) is the 27th, Shanghai time.
    start_of_27th = datetime(2026, 11, 27, tzinfo=ZONE)
    assert not reminder_due(start_of_27th - timedelta(seconds=1), 3)
    assert reminder_due(start_of_27th, 3)
    assert reminder_due(datetime(2026, 11, 30, 15, 59, tzinfo=UTC), 3)  # 23:59 the 30th
    # Midnight turns the month: December's reminder day is weeks away.
    assert not reminder_due(datetime(2026, 11, 30, 16, tzinfo=UTC), 3)


def _facts(**kw: object) -> CsoFacts:
    values: dict[str, object] = {
        "officer_id": "cso-1",
        "name": "张三",
        "unit": "高新区",
        "enterprises": (),
        "contacted_codes": frozenset(),
        "visits": 0,
        "problems_solved": 0,
    }
    values.update(kw)
    return CsoFacts(**values)  # type: ignore[arg-type]


A = EnterpriseRef("914412000000000001", "甲公司")
B = EnterpriseRef("914412000000000002", "乙公司")
C = EnterpriseRef("914412000000000003", "丙公司")


def test_the_status_lists_the_enterprises_not_contacted_in_code_order() -> None:
    status = status_of(
        _facts(
            enterprises=(C, A, B),
            contacted_codes=frozenset({B.credit_code}),
            visits=2,
            problems_solved=4,
        )
    )
    assert (status.enterprises_total, status.contacted) == (3, 1)
    assert status.uncontacted == (A, C)
    assert (status.visits, status.problems_solved) == (2, 4)
    assert not status.complete
    assert needs_reminder(status)


def test_contacts_with_someone_elses_enterprise_do_not_count() -> None:
    status = status_of(_facts(enterprises=(A,), contacted_codes=frozenset({B.credit_code})))
    assert (status.enterprises_total, status.contacted, status.uncontacted) == (1, 0, (A,))


def test_all_contacted_is_complete_and_so_is_having_no_enterprises() -> None:
    done = status_of(
        _facts(enterprises=(A, B), contacted_codes=frozenset({A.credit_code, B.credit_code}))
    )
    assert (done.contacted, done.uncontacted, done.complete) == (2, (), True)
    assert not needs_reminder(done)
    none = status_of(_facts())
    assert (none.enterprises_total, none.complete) == (0, True)
    assert not needs_reminder(none)


def test_statuses_come_in_officer_order() -> None:
    found = statuses([_facts(officer_id="cso-2"), _facts(officer_id="cso-1")])
    assert [s.officer_id for s in found] == ["cso-1", "cso-2"]
