"""The chief service officers' monthly "five ones" (五个一), the part tracking can see: each CSO
contacts every enterprise assigned to them at least once a month, and solves problems. Pure: the
month's bounds and reminder day in Asia/Shanghai, and each CSO's status from the facts the store
gathered."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shared.clock import ZONE

# The zone's months and days are Shanghai's, whatever the server's clock says.

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# Years a report may name: far enough either way; 9999-12 would have no next month to end at.
MIN_YEAR = 1970
MAX_YEAR = 9998


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not MIN_YEAR <= self.year <= MAX_YEAR or not 1 <= self.month <= 12:
            raise ValueError(f"no such month: {self.year:04d}-{self.month:02d}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """`2026-11` → Month(2026, 11); ValueError for anything else."""
        match = _MONTH.match(text.strip())
        if match is None:
            raise ValueError(f"a month is written YYYY-MM, like 2026-11, not {text!r}")
        return cls(int(match[1]), int(match[2]))

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


def local_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    return moment.astimezone(ZONE).date()


def reminder_day(month: Month, days_before_end: int) -> date:
    """The day the reminder goes out: `days_before_end` days before the month's last day (0: on
    the last day itself)."""
    if not 0 <= days_before_end < 28:
        # Every month has at least 28 days, so this keeps the day inside the month.
        raise ValueError("days before month end must be 0 to 27")
    return month.last_day - timedelta(days=days_before_end)


def reminder_due(now: datetime, days_before_end: int) -> bool:
    """On or after this month's reminder day (Shanghai): reminders for this month may go out."""
    return local_day(now) >= reminder_day(Month.of(now), days_before_end)


@dataclass(frozen=True)
class EnterpriseRef:
    credit_code: str
    name: str


@dataclass(frozen=True)
class CsoFacts:
    """What the store found for one CSO and month. `contacted_codes`: enterprises they contacted
    in the month, theirs or not (the status counts only theirs)."""

    officer_id: str
    name: str | None
    unit: str | None
    enterprises: tuple[EnterpriseRef, ...]
    contacted_codes: frozenset[str]
    visits: int
    problems_solved: int


@dataclass(frozen=True)
class CsoStatus:
    officer_id: str
    name: str | None
    unit: str | None
    enterprises_total: int
    contacted: int
    uncontacted: tuple[EnterpriseRef, ...]
    visits: int
    problems_solved: int

    @property
    def complete(self) -> bool:
        """Every assigned enterprise contacted (a CSO with none has nothing left to do)."""
        return not self.uncontacted


def status_of(facts: CsoFacts) -> CsoStatus:
    # Only the CSO's current enterprises count: a contact with one since reassigned to someone
    # else does not make up for one of their own, so contacted + uncontacted = total.
    enterprises = sorted(set(facts.enterprises), key=lambda e: e.credit_code)
    uncontacted = tuple(e for e in enterprises if e.credit_code not in facts.contacted_codes)
    return CsoStatus(
        officer_id=facts.officer_id,
        name=facts.name,
        unit=facts.unit,
        enterprises_total=len(enterprises),
        contacted=len(enterprises) - len(uncontacted),
        uncontacted=uncontacted,
        visits=facts.visits,
        problems_solved=facts.problems_solved,
    )


def statuses(all_facts: Iterable[CsoFacts]) -> list[CsoStatus]:
    return sorted((status_of(f) for f in all_facts), key=lambda s: s.officer_id)


def needs_reminder(status: CsoStatus) -> bool:
    return not status.complete
