"""Tracking's calendar periods at the edges of the years a request may name, and the patterns
the published schemas give for them (found by fuzzing: GET /v1/reports/cso-reporters?month=1970-01
was a 500, its basis month 1969-12 out of range; and the schemas said any string was a month)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from pydantic import TypeAdapter, ValidationError

from services.tracking.periods import (
    DAY_PATTERN,
    MAX_YEAR,
    MIN_YEAR,
    MONTH_PATTERN,
    Day,
    Month,
    day_range,
)
from services.tracking.reports.rates import month_range, previous_month


def test_the_first_and_last_months_have_a_month_either_side() -> None:
    # What the CSO proposal for the first month looks back to, and where the last one ends.
    assert month_range(previous_month(f"{MIN_YEAR}-01"))[0] < month_range(f"{MAX_YEAR}-12")[1]
    first, last = Month.requested(f"{MIN_YEAR}-01"), Month.requested(f"{MAX_YEAR}-12")
    assert str(first.previous()) == f"{MIN_YEAR - 1}-12"
    assert first.utc_range()[0] < first.utc_range()[1]
    assert str(last.next()) == f"{MAX_YEAR + 1}-01"
    assert last.utc_range()[0] < last.utc_range()[1]


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ("2026-11", True),
        (f"{MIN_YEAR}-01", True),
        (f"{MAX_YEAR}-12", True),
        ("1999-10", True),
        ("8999-09", True),
        ("9899-05", True),
        (f"{MIN_YEAR - 1}-12", False),
        (f"{MAX_YEAR + 1}-01", False),
        ("0000-01", False),
        ("2026-00", False),
        ("2026-13", False),
        ("2026-1", False),
        ("٢٠٢٦-١١", False),  # digits, but not ASCII ones
        ("ì", False),
    ],
)
def test_the_month_pattern_accepts_what_a_request_may_name(text: str, accepted: bool) -> None:
    assert bool(re.fullmatch(MONTH_PATTERN, text)) is accepted
    try:
        Month.requested(text)
        parsed = True
    except ValueError:
        parsed = False
    assert parsed is accepted


@pytest.mark.parametrize(
    ("day", "accepted"),
    [
        (date(2026, 11, 27), True),
        (date(MIN_YEAR, 1, 1), True),
        (date(MAX_YEAR, 12, 31), True),
        (date(MIN_YEAR - 1, 12, 31), False),
        (date(MAX_YEAR + 1, 1, 1), False),
        (date(14, 10, 28), False),
    ],
)
def test_the_day_pattern_accepts_the_days_the_calendar_holds(day: date, accepted: bool) -> None:
    assert bool(re.fullmatch(DAY_PATTERN, day.isoformat())) is accepted
    try:
        day_range(day, day)
        held = True
    except ValueError:
        held = False
    assert held is accepted


@pytest.mark.parametrize("text", ["0", "0.0", "1767225600", "2026-1-5", "２０２６-11-27"])
def test_a_day_is_written_as_a_day_not_a_unix_time(text: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Day).validate_python(text)
    assert TypeAdapter(Day).validate_python("2026-11-27") == date(2026, 11, 27)
