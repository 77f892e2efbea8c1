"""The chief service officers' monthly "five ones" (五个一), the part tracking can see: each CSO
contacts every enterprise assigned to them at least once a month, and solves problems. Pure: the
month's bounds and reminder day in Asia/Shanghai, and each CSO's status from the facts the store
gathered."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.tracking.periods import Month, local_day


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
