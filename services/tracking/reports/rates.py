"""The three rates (三率) and the figures beside them, and the monthly proposal of four chief
service officers to report to the zone's party committee (五个一). Pure: no clock, no I/O; the
store fetches one `AppealFacts` per appeal and `now` is passed in.

Definitions, so nobody has to guess:

- **Population**: appeals received (`received_at`) from the first day to the last, both
  included, days in Asia/Shanghai (`day_range`). Appeals judged unreasonable (不合理诉求,
  `unreasonable_at` set) are left out of every figure and counted apart
  (`excluded_unreasonable`). `total` is the population.
- **Response rate** (响应率): appeals acknowledged (签收) within the limit and, unless anonymous,
  with the appellant contacted within the limit ÷ appeals whose response is due. A stage is
  done within its limit iff `met_at <= due_at`; it is due once met or once `due_at <= now`. An
  appeal with no acknowledge deadline is not counted; one with no first-contact deadline counts
  on acknowledging alone. Decision: an appeal acknowledged in time whose first contact is neither
  made nor yet due is left out of both sides until it is decided (counting it as failed would
  make every report of the current week look worse than it is); acknowledged late, or not at
  all by the due time, it fails at once.
- **Resolution rate** (解决率): follow-ups where the appellant said solved ÷ appeals followed up
  (`followed_up_at` set: the last conclusive follow-up).
- **Satisfaction rate** (满意率): follow-ups whose answer is in the counted set
  (`satisfaction_counts`, by default satisfied and basically satisfied) ÷ appeals followed up.
- **On-time rate**: resolve stage met at or before its due time ÷ appeals whose resolve stage is
  met or due.
- **Median handling time**: median of `resolved_at − received_at` in hours over appeals with a
  `resolved_at`; None when there are none.
- **Counts**: `open` (status not closed), `overdue` (open, with an acknowledge, first-contact or
  resolve deadline not met and `due_at < now`), `no_feedback` (closed with no conclusive
  follow-up, `closed_reason = 'no_feedback'`; counted apart: not followed up, so outside the
  resolution and satisfaction rates, while its response and on-time count as for any appeal).
- A rate whose denominator is zero is **None**, not 0 and not 1; every rate comes with its
  numerator and denominator so a supervisor can check it.
- **Composite** = 0.30 · response + 0.35 · resolution + 0.35 · satisfaction (the published
  weighting), exact (fractions); None if any part is None.

The CSO proposal (`reported_in_cycle`, `propose`):

- A **cycle**: reports (`cso_reports`) are taken month by month in order; once every current CSO
  has reported, a new cycle starts. A CSO reporting again in the month that completed the cycle
  has reported in the new one too (so the order reports were recorded within a month does not
  matter). Reports by officers no longer CSOs are ignored.
- **Proposed**: the CSOs not yet reported in the cycle, lowest composite first (composite over
  the appeals they lead received in the previous calendar month), those with no composite after
  those with one, ties by officer id. Decision: when fewer than four remain, the cycle ends this
  month and the rest of the four are taken from the others in the same order (the committee
  still hears four).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Literal

from services.tracking.periods import Month

RESPONSE_WEIGHT = Fraction(30, 100)
RESOLUTION_WEIGHT = Fraction(35, 100)
SATISFACTION_WEIGHT = Fraction(35, 100)
REPORTERS_PER_MONTH = 4
CLOSED = "closed"
NO_FEEDBACK = "no_feedback"
UNKNOWN = "unknown"
UNASSIGNED = "unassigned"

GroupBy = Literal["officer", "unit", "channel", "category", "community", "month"]


@dataclass(frozen=True)
class Stage:
    """One deadline row: when the stage is due, and when it was done (None: not yet)."""

    due_at: datetime
    met_at: datetime | None = None

    def in_time(self) -> bool:
        return self.met_at is not None and self.met_at <= self.due_at

    def is_due(self, now: datetime) -> bool:
        return self.met_at is not None or self.due_at <= now

    def overdue(self, now: datetime) -> bool:
        return self.met_at is None and self.due_at < now


@dataclass(frozen=True)
class AppealFacts:
    """What the rates need to know about one appeal (one row of the store's query)."""

    appeal_id: str
    received_at: datetime
    status: str | None = None
    channel: str | None = None
    category: str | None = None
    community: str | None = None  # where the appellant located it (the form's community)
    officer_id: str | None = None
    unit: str | None = None  # the officer's unit, as tracking last heard it
    anonymous: bool = False
    resolved_at: datetime | None = None
    closed_reason: str | None = None
    followed_up_at: datetime | None = None
    follow_up_solved: bool | None = None
    follow_up_satisfaction: str | None = None
    unreasonable: bool = False
    acknowledge: Stage | None = None
    first_contact: Stage | None = None
    resolve: Stage | None = None


@dataclass(frozen=True)
class Ratio:
    numerator: int
    denominator: int

    @property
    def value(self) -> Fraction | None:
        return None if self.denominator == 0 else Fraction(self.numerator, self.denominator)


@dataclass(frozen=True)
class Rates:
    total: int
    excluded_unreasonable: int
    response: Ratio
    resolution: Ratio
    satisfaction: Ratio
    on_time: Ratio
    median_handling_hours: float | None
    open: int
    overdue: int
    no_feedback: int

    @property
    def composite(self) -> Fraction | None:
        return composite(self.response.value, self.resolution.value, self.satisfaction.value)


def composite(
    response: Fraction | None, resolution: Fraction | None, satisfaction: Fraction | None
) -> Fraction | None:
    if response is None or resolution is None or satisfaction is None:
        return None
    return (
        RESPONSE_WEIGHT * response
        + RESOLUTION_WEIGHT * resolution
        + SATISFACTION_WEIGHT * satisfaction
    )


def parse_counted(setting: str) -> frozenset[str]:
    """`satisfaction_counts` ("satisfied,basically_satisfied") as a set of answers."""
    return frozenset(part.strip() for part in setting.split(",") if part.strip())


def responded(facts: AppealFacts, now: datetime) -> bool | None:
    """Whether the appeal counts as responded to in time; None while it is not counted (see the
    module's definitions)."""
    ack = facts.acknowledge
    if ack is None or not ack.is_due(now):
        return None
    if not ack.in_time():
        return False
    contact = facts.first_contact
    if facts.anonymous or contact is None:
        return True
    if contact.in_time():
        return True
    if contact.is_due(now):
        return False
    return None


def compute(facts: Iterable[AppealFacts], now: datetime, counted: Collection[str]) -> Rates:
    excluded = 0
    total = open_ = overdue = no_feedback = 0
    response = [0, 0]
    resolution = [0, 0]
    satisfaction = [0, 0]
    on_time = [0, 0]
    hours: list[float] = []
    for f in facts:
        if f.unreasonable:
            excluded += 1
            continue
        total += 1
        outcome = responded(f, now)
        if outcome is not None:
            response[1] += 1
            response[0] += outcome
        if f.followed_up_at is not None:
            resolution[1] += 1
            satisfaction[1] += 1
            resolution[0] += f.follow_up_solved is True
            satisfaction[0] += f.follow_up_satisfaction in counted
        if f.resolve is not None and f.resolve.is_due(now):
            on_time[1] += 1
            on_time[0] += f.resolve.in_time()
        if f.resolved_at is not None:
            hours.append((f.resolved_at - f.received_at).total_seconds() / 3600)
        if f.status != CLOSED:
            open_ += 1
            stages = (f.acknowledge, f.first_contact, f.resolve)
            overdue += any(s is not None and s.overdue(now) for s in stages)
        no_feedback += f.closed_reason == NO_FEEDBACK
    return Rates(
        total=total,
        excluded_unreasonable=excluded,
        response=Ratio(*response),
        resolution=Ratio(*resolution),
        satisfaction=Ratio(*satisfaction),
        on_time=Ratio(*on_time),
        median_handling_hours=statistics.median(hours) if hours else None,
        open=open_,
        overdue=overdue,
        no_feedback=no_feedback,
    )


# --- grouping ---------------------------------------------------------------------------------


def month_of(at: datetime) -> str:
    """YYYY-MM of an instant, in Asia/Shanghai."""
    return str(Month.of(at))


GROUP_KEYS: dict[str, Callable[[AppealFacts], str]] = {
    "officer": lambda f: f.officer_id or UNASSIGNED,
    "unit": lambda f: f.unit or UNKNOWN,
    "channel": lambda f: f.channel or UNKNOWN,
    "category": lambda f: f.category or UNKNOWN,
    "community": lambda f: f.community or UNKNOWN,
    "month": lambda f: month_of(f.received_at),
}


def group(
    facts: Iterable[AppealFacts],
    key: Callable[[AppealFacts], str],
    now: datetime,
    counted: Collection[str],
) -> dict[str, Rates]:
    """Rates per group, groups in key order. A group holding only unreasonable appeals is kept
    (total 0), so what was excluded shows where it belongs."""
    buckets: dict[str, list[AppealFacts]] = {}
    for f in facts:
        buckets.setdefault(key(f), []).append(f)
    return {name: compute(buckets[name], now, counted) for name in sorted(buckets)}


# --- days and months --------------------------------------------------------------------------


# The reports name months as "YYYY-MM" (periods.Month does the calendar).


def parse_month(month: str) -> date:
    """The first day of "YYYY-MM"; ValueError otherwise."""
    return Month.parse(month).first_day


def previous_month(month: str) -> str:
    return str(Month.parse(month).previous())


def month_range(month: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the calendar month in Asia/Shanghai."""
    return Month.parse(month).utc_range()


# --- the CSO proposal ------------------------------------------------------------------------


def reported_in_cycle(csos: Collection[str], reports: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The current CSOs who have reported in the cycle under way, from (officer_id, month)
    reports. Pass the reports before the month being proposed for."""
    current = frozenset(csos)
    by_month: dict[str, set[str]] = {}
    for officer_id, month in reports:
        if officer_id in current:
            by_month.setdefault(month, set()).add(officer_id)
    done: set[str] = set()
    for month in sorted(by_month):
        reporters = by_month[month]
        again = reporters & done
        done |= reporters
        if current and done >= current:
            done = set(again)
    return frozenset(done)


def _standing(
    composites: Mapping[str, Fraction | None],
) -> Callable[[str], tuple[bool, Fraction, str]]:
    def key(officer_id: str) -> tuple[bool, Fraction, str]:
        value = composites.get(officer_id)
        return (value is None, value if value is not None else Fraction(0), officer_id)

    return key


def propose(
    csos: Collection[str],
    composites: Mapping[str, Fraction | None],
    reported: Collection[str],
    n: int = REPORTERS_PER_MONTH,
) -> list[str]:
    """Up to `n` CSOs to report this month, in order (see the module's definitions)."""
    key = _standing(composites)
    waiting = sorted((c for c in set(csos) if c not in reported), key=key)
    others = sorted((c for c in set(csos) if c in reported), key=key)
    return (waiting + others)[:n]
