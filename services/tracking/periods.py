"""The zone's calendar periods: months and days in Asia/Shanghai, whatever the server's clock
says (the five ones and the rates count by them). Pure. Years outside MIN_YEAR..MAX_YEAR are
refused with ValueError, so no request can make a date the calendar cannot hold."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from shared.clock import ZONE

_MONTH = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)
# Years a request may name: far enough either way, and a month inside them has a month before
# and after it that a datetime can hold.
MIN_YEAR = 1970
MAX_YEAR = 9998


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        # A year either side of those a request may name: a report looks a month back (the
        # CSO proposal's basis) and ends where the next month starts.
        if not MIN_YEAR - 1 <= self.year <= MAX_YEAR + 1 or not 1 <= self.month <= 12:
            raise ValueError(f"no such month: {self.year:04d}-{self.month:02d}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """`2026-11` → Month(2026, 11); ValueError for anything else."""
        match = _MONTH.match(text.strip())
        if match is None:
            raise ValueError(f"a month is written YYYY-MM, like 2026-11, not {text!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def requested(cls, text: str) -> Month:
        """A month a request names: parsed, and in the years MIN_YEAR..MAX_YEAR."""
        month = cls.parse(text)
        if not MIN_YEAR <= month.year <= MAX_YEAR:
            raise ValueError(f"a month between {MIN_YEAR}-01 and {MAX_YEAR}-12, not {text!r}")
        return month

    @classmethod
    def of(cls, moment: datetime | date) -> Month:
        """The Shanghai month an instant (aware) or a local day falls in."""
        if isinstance(moment, datetime):
            moment = local_day(moment)
        return cls(moment.year, moment.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    @property
    def start(self) -> datetime:
        """Midnight of the 1st in Shanghai (inclusive)."""
        return datetime(self.year, self.month, 1, tzinfo=ZONE)

    @property
    def end(self) -> datetime:
        """Midnight of the next month's 1st in Shanghai (exclusive)."""
        return self.next().start

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def utc_range(self) -> tuple[datetime, datetime]:
        """[start, end) in UTC."""
        return self.start.astimezone(UTC), self.end.astimezone(UTC)


def local_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    return moment.astimezone(ZONE).date()


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC covering the days first..last (both included) in Asia/Shanghai."""
    for day in (first, last):
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise ValueError(f"{day} is outside the years {MIN_YEAR}–{MAX_YEAR}")
    start = datetime.combine(first, time(), ZONE)
    end = datetime.combine(last + timedelta(days=1), time(), ZONE)
    return start.astimezone(UTC), end.astimezone(UTC)


def _month(text: str) -> str:
    return str(Month.requested(text))


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


def _day_text(value: object) -> object:
    # Pydantic would take "0" or "1.5" for a Unix time; a day is written as a day.
    if isinstance(value, str) and not _DAY.match(value):
        raise ValueError(f"a day is written YYYY-MM-DD, like 2026-11-27, not {value!r}")
    return value


def _day(day: date) -> date:
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(f"a day between {MIN_YEAR} and {MAX_YEAR}, not {day}")
    return day


# The same years and months as patterns, so that the published schemas say what is accepted.
_YEAR = "(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_MONTH_OF_YEAR = "(0[1-9]|1[0-2])"
MONTH_PATTERN = f"^{_YEAR}-{_MONTH_OF_YEAR}$"
DAY_PATTERN = f"^{_YEAR}-{_MONTH_OF_YEAR}-(0[1-9]|[12][0-9]|3[01])$"
MONTH_SCHEMA = WithJsonSchema({"type": "string", "pattern": MONTH_PATTERN, "examples": ["2026-11"]})
DAY_SCHEMA = WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN})

# For routes: a month "YYYY-MM" and a day the calendar can hold (422 naming the parameter).
MonthText = Annotated[str, AfterValidator(_month), MONTH_SCHEMA]
Day = Annotated[date, BeforeValidator(_day_text), AfterValidator(_day), DAY_SCHEMA]
