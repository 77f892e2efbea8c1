"""Working days in mainland China and "N working days" arithmetic, in Asia/Shanghai. Pure apart
from reading the override file when asked to (`load_overrides`, `WorkingCalendar.from_file`).

Definitions, so nobody has to guess:

- A **day** is a calendar date in Asia/Shanghai; an aware datetime belongs to the date it has
  there (a naive datetime is refused: ValueError).
- **"N working days" from a receipt** (N ≥ 1) ends at the **end of the Nth working day after
  the day of receipt**: that day at 23:59:59.999999 Asia/Shanghai (`end_of_day`). Something done
  at `at` is on time iff `at <= due`. The day of receipt never counts, whatever the hour and
  whether or not it is a working day: received on Saturday, "1 working day" is Monday's end.
- **Sources**, for each date the first that answers:
  1. the ops override file: dates declared `working_days` or `days_off` (with a note each;
     not `off`, which YAML reads as false);
  2. `chinese-calendar` (its official holidays and adjusted working days, 调休) for the years it
     has data for — it raises NotImplementedError for others (1.11.0 stops at 2026);
  3. a year the override file declares `complete` (ops typed in the State Council's schedule
     before the package knew it): Monday–Friday, the override file doing the rest; no warning;
  4. any other year: an **estimate** — Monday–Friday minus the holidays the `holidays` package
     knows for China, plus the weekend days it knows to be working days; a warning is logged
     once per year (per calendar) and `jiban_working_calendar_estimated_years_total{year}`
     increments. If `holidays` fails too: plain Monday–Friday. Never an exception.
- Each year is worked out once per calendar and cached (thread-safe). Build one calendar per
  process at start-up and share it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import chinese_calendar
import holidays
import yaml
from prometheus_client import Counter

from shared.clock import ZONE

log = logging.getLogger(__name__)

SHANGHAI = ZONE
DAY_END = time(23, 59, 59, 999999)
OVERRIDES_RESOURCE = "working_days_overrides.yaml"
# No real calendar has this many days off in a row; past it the override file is wrong.
_MAX_DAYS_OFF_IN_A_ROW = 60
_KEYS = ("working_days", "days_off", "complete_years")

ESTIMATED_YEARS = Counter(
    "jiban_working_calendar_estimated_years_total",
    "Years whose working days were estimated (Monday-Friday minus the holidays the `holidays` "
    "package knows) because no calendar source covers them; once per year per calendar",
    ["year"],
)


class DaySource(StrEnum):
    """Where a date's working/off status came from."""

    OVERRIDE = "override"  # the ops override file named this date
    CHINESE_CALENDAR = "chinese_calendar"
    COMPLETE_YEAR = "complete_year"  # the override file declares the year complete
    ESTIMATED = "estimated"  # Monday–Friday minus `holidays.China` (warned)
    WEEKDAYS = "weekdays"  # Monday–Friday only: `holidays` failed too (warned)


class CalendarConfigError(ValueError):
    """The override file (or mapping) is not usable; the message names every problem."""

    def __init__(self, problems: Iterable[str], source: str = "working-day overrides") -> None:
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


# --- dates and instants --------------------------------------------------------------------


def local_date(at: date | datetime) -> date:
    """The Asia/Shanghai date of an aware datetime (a date is returned as it is)."""
    if isinstance(at, datetime):
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"a naive datetime has no place in deadlines: {at.isoformat()}")
        return at.astimezone(SHANGHAI).date()
    return at


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def end_of_day(day: date) -> datetime:
    """23:59:59.999999 Asia/Shanghai: the last instant that is still `day` (on time iff <=)."""
    return datetime.combine(day, DAY_END, tzinfo=SHANGHAI)


# --- the override file ---------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarOverrides:
    """Dates ops declare working or off (each with a note), and years they declare complete."""

    working: Mapping[date, str] = field(default_factory=dict)
    off: Mapping[date, str] = field(default_factory=dict)
    complete_years: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        both = sorted(set(self.working) & set(self.off))
        if both:
            raise CalendarConfigError(
                [f"{d.isoformat()} is declared both working and off" for d in both]
            )
        object.__setattr__(self, "working", MappingProxyType(dict(self.working)))
        object.__setattr__(self, "off", MappingProxyType(dict(self.off)))
        object.__setattr__(self, "complete_years", frozenset(self.complete_years))

    @classmethod
    def from_mapping(
        cls, raw: Mapping[Any, Any] | None, *, source: str = "working-day overrides"
    ) -> CalendarOverrides:
        """From the file's shape (None or {} is no override at all)::

        working_days: [2027-02-20, {date: 2027-02-21, note: 春节调休上班}]
        days_off: [{date: 2027-02-11, note: 春节}]
        complete_years: [2027]
        """
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise CalendarConfigError(
                ["expected a mapping with working_days, days_off, complete_years"], source
            )
        problems: list[str] = []
        for key in raw:
            if key is False or key is True:
                # YAML 1.1 reads a bare `off` (or `no`, `yes`, `on`) as a boolean.
                problems.append(f"{key}: a YAML boolean as a key (`off`?): say days_off")
            elif str(key) not in _KEYS:
                problems.append(f"{key}: unknown key (expected {', '.join(_KEYS)})")
        lists: dict[str, dict[date, str]] = {}
        for key in ("working_days", "days_off"):
            entries = raw.get(key) or []
            lists[key] = {}
            if not isinstance(entries, list):
                problems.append(f"{key}: expected a list of dates")
                continue
            for index, entry in enumerate(entries):
                where = f"{key}[{index}]"
                note = ""
                if isinstance(entry, Mapping):
                    extra = sorted(set(map(str, entry)) - {"date", "note"})
                    if extra:
                        problems.append(f"{where}: unknown keys {extra} (expected date, note)")
                    note = str(entry.get("note") or "")
                    entry = entry.get("date")
                day = _as_date(entry)
                if day is None:
                    problems.append(f"{where}: {entry!r} is not a date (YYYY-MM-DD)")
                elif day in lists[key]:
                    problems.append(f"{where}: {day.isoformat()} is listed twice")
                else:
                    lists[key][day] = note
        for day in sorted(set(lists["working_days"]) & set(lists["days_off"])):
            problems.append(f"{day.isoformat()} is declared both working and off")
        years = raw.get("complete_years") or []
        if not isinstance(years, list) or not all(
            isinstance(y, int) and not isinstance(y, bool) and 1900 <= y <= 2200 for y in years
        ):
            problems.append("complete_years: expected a list of years (e.g. [2027])")
            years = []
        if problems:
            raise CalendarConfigError(problems, source)
        return cls(
            working=lists["working_days"], off=lists["days_off"], complete_years=frozenset(years)
        )


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return None  # a time of day has no place here
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def load_overrides(source: str | Path) -> CalendarOverrides:
    """The override file (a Path, or YAML text as a str). Raises CalendarConfigError."""
    label = str(source) if isinstance(source, Path) else OVERRIDES_RESOURCE
    if isinstance(source, Path):
        try:
            source = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise CalendarConfigError([f"cannot read the file: {exc.strerror}"], label) from None
    try:
        raw = yaml.safe_load(source)
    except ValueError as exc:  # a timestamp-looking value that is no date (2027-13-01)
        raise CalendarConfigError([f"not a date: {exc}"], label) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise CalendarConfigError([f"not valid YAML: {where}{problem}"], label) from None
    return CalendarOverrides.from_mapping(raw, source=label)


def shipped_overrides() -> CalendarOverrides:
    """The override file shipped with tracking (`working_days_overrides.yaml` beside this)."""
    here = resources.files("services.tracking.deadlines")
    text = here.joinpath(OVERRIDES_RESOURCE).read_text("utf-8")
    return load_overrides(text)


# --- the sources ---------------------------------------------------------------------------

Primary = Callable[[date], bool]
"""Whether a date is a working day; raises NotImplementedError for a year it does not cover."""

Estimate = Callable[[int], tuple[frozenset[date], frozenset[date]]]
"""For a year: (weekdays that are off, weekend days that are working)."""


def holidays_estimate(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """What the `holidays` package knows about a year in mainland China."""
    known = holidays.country_holidays("CN", years=year)
    off = frozenset(d for d in known if d.year == year)
    working = frozenset(
        d for d in getattr(known, "weekend_workdays", ()) if d.year == year and d.weekday() >= 5
    )
    return off, working


@dataclass(frozen=True)
class YearInfo:
    year: int
    source: DaySource  # where the days not named by the override file came from
    working: frozenset[date]  # every working day of the year, overrides applied


# --- the calendar --------------------------------------------------------------------------


class WorkingCalendar:
    """Working days (see the module's docstring). `overrides` may be a CalendarOverrides or the
    file's mapping; `primary` and `estimate` are there for tests."""

    def __init__(
        self,
        overrides: CalendarOverrides | Mapping[str, Any] | None = None,
        *,
        primary: Primary = chinese_calendar.is_workday,
        estimate: Estimate = holidays_estimate,
    ) -> None:
        if not isinstance(overrides, CalendarOverrides):
            overrides = CalendarOverrides.from_mapping(overrides)
        self.overrides = overrides
        self._primary = primary
        self._estimate = estimate
        self._years: dict[int, YearInfo] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path | None = None, **kwargs: Any) -> WorkingCalendar:
        """With the override file at `path`; None: the file shipped with tracking."""
        overrides = shipped_overrides() if path is None else load_overrides(Path(path))
        return cls(overrides, **kwargs)

    # -- per year

    def year(self, year: int) -> YearInfo:
        info = self._years.get(year)
        if info is None:
            with self._lock:
                info = self._years.get(year)
                if info is None:
                    info = self._years[year] = self._work_out(year)
        return info

    def estimated_years(self) -> frozenset[int]:
        """The years looked at so far that no source covers (estimated, warned about)."""
        return frozenset(
            y
            for y, info in self._years.items()
            if info.source in (DaySource.ESTIMATED, DaySource.WEEKDAYS)
        )

    def _work_out(self, year: int) -> YearInfo:
        days = [date(year, 1, 1) + timedelta(days=i) for i in range(366)]
        days = [d for d in days if d.year == year]
        source, base = self._base(year, days)
        working = {d for d in days if base(d)}
        working |= {d for d in self.overrides.working if d.year == year}
        working -= {d for d in self.overrides.off if d.year == year}
        return YearInfo(year, source, frozenset(working))

    def _base(self, year: int, days: list[date]) -> tuple[DaySource, Callable[[date], bool]]:
        if year in self.overrides.complete_years:
            return DaySource.COMPLETE_YEAR, _weekday
        try:
            known = {d: self._primary(d) for d in days}
        except NotImplementedError:
            pass
        except Exception:  # a broken source must not stop deadlines: estimate instead
            log.exception(
                "the working-day calendar failed for a year; estimating it",
                extra={"year": year},
            )
        else:
            return DaySource.CHINESE_CALENDAR, known.__getitem__
        try:
            off, weekend_working = self._estimate(year)
        except Exception as exc:
            source = DaySource.WEEKDAYS
            detail = f"the holidays package failed too ({exc!r}): Monday to Friday"
            off, weekend_working = frozenset(), frozenset()
        else:
            source = DaySource.ESTIMATED
            detail = (
                f"Monday to Friday minus {len(off)} holidays the holidays package knows, "
                f"plus {len(weekend_working)} weekend working days"
            )
        log.warning(
            "no calendar covers %s: its working days are estimated (%s); deadlines in it may be "
            "off by the adjusted working days (调休) — add them to the working-day override file",
            year,
            detail,
            extra={"year": year, "calendar_source": str(source)},
        )
        ESTIMATED_YEARS.labels(year=str(year)).inc()

        def base(d: date) -> bool:
            return (d.weekday() < 5 and d not in off) or d in weekend_working

        return source, base

    # -- per day

    def is_working_day(self, day: date | datetime) -> bool:
        day = local_date(day)
        return day in self.year(day.year).working

    def source(self, day: date | datetime) -> DaySource:
        day = local_date(day)
        if day in self.overrides.working or day in self.overrides.off:
            return DaySource.OVERRIDE
        return self.year(day.year).source

    def note(self, day: date | datetime) -> str | None:
        """The override file's note for a date it names."""
        day = local_date(day)
        return self.overrides.working.get(day, self.overrides.off.get(day))

    def working_day_after(self, day: date | datetime, n: int) -> date:
        """The nth working day strictly after `day` (n ≥ 1)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, not {n}")
        current = local_date(day)
        off_in_a_row = 0
        while n:
            current += timedelta(days=1)
            if self.is_working_day(current):
                n -= 1
                off_in_a_row = 0
            else:
                off_in_a_row += 1
                if off_in_a_row > _MAX_DAYS_OFF_IN_A_ROW:
                    raise CalendarConfigError(
                        [f"no working day in the {_MAX_DAYS_OFF_IN_A_ROW} days before {current}"]
                    )
        return current

    def add_working_days(self, received_at: datetime, n: int) -> datetime:
        """The end (23:59:59.999999 Asia/Shanghai) of the nth working day after the day of
        `received_at` (aware; n ≥ 1)."""
        return end_of_day(self.working_day_after(received_at, n))

    def working_days_between(self, start: date | datetime, end: date | datetime) -> int:
        """Working days d with date(start) < d ≤ date(end) (0 if end is not after start). For
        any n ≥ 1: working_days_between(t, add_working_days(t, n)) == n."""
        first, last = local_date(start), local_date(end)
        count = 0
        day = first + timedelta(days=1)
        while day <= last:
            if self.is_working_day(day):
                count += 1
            day += timedelta(days=1)
        return count


def _weekday(day: date) -> bool:
    return day.weekday() < 5
