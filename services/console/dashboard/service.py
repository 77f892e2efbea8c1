"""The dashboard as the page shows it (pure: no I/O, no clock; `today` is passed in).

The period is a run of whole months chosen on the page (`from`, `to` as YYYY-MM, or a preset);
a bad one is a `PeriodProblem` the page words, never an error. The figures are tracking's rates
report (`GET /v1/reports/rates`) and five-ones report (`GET /v1/reports/five-ones`), read into
pydantic models here and shaped into tables and the charts drawn from the same numbers: rates
and volume by month (every month of the period, empty ones included, so the line has no gaps),
volume by channel, category and community, officers and units ranked by the composite rate with
their names, and the chief service officers' five ones for the period's last month."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Years tracking's reports take (services/tracking/periods.py says the same; the console never
# imports another service's modules, and a month outside them would come back as tracking's 422).
MIN_YEAR = 1970
MAX_YEAR = 9998
# Long enough for a year-on-year look; short enough that the monthly chart stays readable.
MAX_MONTHS = 36
DEFAULT_MONTHS = 6
_MONTH = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)

# The groupings the page asks tracking for, one report each.
GROUPINGS = ("month", "channel", "category", "community", "officer", "unit")
# The rates shown beside each other, in this order (the report's field prefixes).
RATE_NAMES = ("response", "resolution", "satisfaction", "on_time")
UNKNOWN = "unknown"  # tracking's group for a missing channel, category, community or unit
UNASSIGNED = "unassigned"  # tracking's group for appeals no officer leads


# --- the period -----------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class YearMonth:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> YearMonth:
        """ "2026-11" → YearMonth(2026, 11); ValueError for anything else."""
        match = _MONTH.match(text.strip())
        if match is None or not 1 <= int(match[2]) <= 12:
            raise ValueError(text)
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: date) -> YearMonth:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def plus(self, months: int) -> YearMonth:
        index = self.year * 12 + self.month - 1 + months
        return YearMonth(index // 12, index % 12 + 1)

    def months_until(self, other: YearMonth) -> int:
        """How many months from self to other (0 for the same month)."""
        return (other.year - self.year) * 12 + other.month - self.month

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        following = self.plus(1)
        return date.fromordinal(date(following.year, following.month, 1).toordinal() - 1)


class ProblemKind(StrEnum):
    """What is wrong with a period (the template words each)."""

    FORMAT = "format"  # not YYYY-MM
    YEARS = "years"  # outside MIN_YEAR..MAX_YEAR
    ORDER = "order"  # from after to
    TOO_LONG = "too_long"  # more than MAX_MONTHS
    PRESET = "preset"  # no such preset


class PeriodProblem(Exception):
    def __init__(self, kind: ProblemKind, field: str, typed: str = "") -> None:
        super().__init__(f"{field}: {kind}")
        self.kind = kind
        self.field = field
        self.typed = typed


@dataclass(frozen=True)
class Period:
    first: YearMonth
    last: YearMonth

    @property
    def from_day(self) -> date:
        return self.first.first_day

    @property
    def to_day(self) -> date:
        return self.last.last_day

    @property
    def months(self) -> list[str]:
        return [str(self.first.plus(n)) for n in range(self.first.months_until(self.last) + 1)]

    @property
    def query(self) -> dict[str, str]:
        """The rates report's parameters for the period (days, both included)."""
        return {"from": self.from_day.isoformat(), "to": self.to_day.isoformat()}


class Preset(StrEnum):
    THIS_MONTH = "this_month"
    LAST_3_MONTHS = "last_3_months"
    LAST_6_MONTHS = "last_6_months"
    LAST_12_MONTHS = "last_12_months"
    THIS_YEAR = "this_year"


def preset_period(preset: Preset, today: date) -> Period:
    now = YearMonth.of(today)
    if preset is Preset.THIS_YEAR:
        return Period(YearMonth(now.year, 1), now)
    span = {
        Preset.THIS_MONTH: 1,
        Preset.LAST_3_MONTHS: 3,
        Preset.LAST_6_MONTHS: 6,
        Preset.LAST_12_MONTHS: 12,
    }[preset]
    return Period(now.plus(1 - span), now)


def presets(today: date) -> list[tuple[Preset, Period]]:
    """Each preset with the months it stands for today (the page links to them)."""
    return [(p, preset_period(p, today)) for p in Preset]


def _month(text: str, field: str) -> YearMonth:
    try:
        month = YearMonth.parse(text)
    except ValueError:
        raise PeriodProblem(ProblemKind.FORMAT, field, text) from None
    if not MIN_YEAR <= month.year <= MAX_YEAR:
        raise PeriodProblem(ProblemKind.YEARS, field, text)
    return month


def parse_period(
    from_text: str | None, to_text: str | None, preset: str | None, today: date
) -> Period:
    """The period the page asks for: `from`..`to` (months, both included; one alone is that
    month), else the preset, else the last DEFAULT_MONTHS months. PeriodProblem otherwise."""
    from_text, to_text = (from_text or "").strip(), (to_text or "").strip()
    if from_text or to_text:
        first = _month(from_text, "from") if from_text else None
        last = _month(to_text, "to") if to_text else None
        first = first or last
        last = last or first
        assert first is not None and last is not None
        if first > last:
            raise PeriodProblem(ProblemKind.ORDER, "from", from_text)
        if first.months_until(last) + 1 > MAX_MONTHS:
            raise PeriodProblem(ProblemKind.TOO_LONG, "to", to_text)
        return Period(first, last)
    if preset:
        try:
            return preset_period(Preset(preset), today)
        except ValueError:
            raise PeriodProblem(ProblemKind.PRESET, "preset", preset) from None
    now = YearMonth.of(today)
    return Period(now.plus(1 - DEFAULT_MONTHS), now)


# --- what tracking answers (the boundary) ---------------------------------------------------


class RatesRowIn(BaseModel):
    """One group of tracking's rates report (services/tracking/reports/api.py `RatesRow`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    group: str | None
    total: int
    excluded_unreasonable: int
    response_rate: float | None
    response_numerator: int
    response_denominator: int
    resolution_rate: float | None
    resolution_numerator: int
    resolution_denominator: int
    satisfaction_rate: float | None
    satisfaction_numerator: int
    satisfaction_denominator: int
    on_time_rate: float | None
    on_time_numerator: int
    on_time_denominator: int
    composite_rate: float | None
    median_handling_hours: float | None
    open: int
    overdue: int
    no_feedback: int

    def ratio(self, name: str) -> Ratio:
        return Ratio(
            rate=getattr(self, f"{name}_rate"),
            numerator=getattr(self, f"{name}_numerator"),
            denominator=getattr(self, f"{name}_denominator"),
        )


class RatesReportIn(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    group_by: str | None
    unit: str | None
    rows: list[RatesRowIn]
    overall: RatesRowIn


class EnterpriseIn(BaseModel):
    credit_code: str
    name: str


class CsoFiveOnesIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    officer_id: str
    name: str | None
    unit: str | None
    enterprises_total: int
    contacted: int
    uncontacted: list[EnterpriseIn]
    visits: int
    problems_solved: int
    complete: bool


class FiveOnesIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    month: str
    month_ends_on: date
    items: list[CsoFiveOnesIn]


# --- what the page shows --------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    rate: float | None
    numerator: int
    denominator: int


def percent(rate: float | None) -> str:
    """A rate as the tables write it: 0.3333 → "33.33%"; no rate (nothing to divide by) → "—"."""
    return "—" if rate is None else f"{rate * 100:.2f}%"


def chart_percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 2)


@dataclass(frozen=True)
class GroupRow:
    """A group of the report as a row of a table: `key` is tracking's group, `label` what the
    page shows (`translate`: a data word, shown through the catalogue), `rates` None for a month
    without appeals."""

    key: str
    label: str
    translate: bool
    rates: RatesRowIn | None

    @property
    def total(self) -> int:
        return self.rates.total if self.rates else 0

    def count(self, name: str) -> int:
        return int(getattr(self.rates, name)) if self.rates else 0

    def ratio(self, name: str) -> Ratio:
        return self.rates.ratio(name) if self.rates else Ratio(None, 0, 0)

    @property
    def composite(self) -> float | None:
        return self.rates.composite_rate if self.rates else None


@dataclass(frozen=True)
class Ranked:
    """A row of a ranking: `rank` None when the composite cannot be computed (a part has
    nothing to divide by), listed after the ranked ones."""

    rank: int | None
    row: GroupRow
    unit: str | None = None


@dataclass(frozen=True)
class FiveOnesRow:
    officer_id: str
    name: str
    unit: str
    enterprises_total: int
    contacted: int
    uncontacted: int
    visits: int
    problems_solved: int
    complete: bool


@dataclass(frozen=True)
class FiveOnes:
    month: str
    rows: list[FiveOnesRow]


ChartKind = Literal["line", "bar", "hbar", "stacked_hbar"]


@dataclass(frozen=True)
class Series:
    name: str  # a word of WORDS
    values: list[float | None]


@dataclass(frozen=True)
class Chart:
    """What dashboard.js draws: `categories` along one axis (`translate`: which of them are
    data words), `series` of numbers (`percent`: rates, drawn 0–100)."""

    key: str
    kind: ChartKind
    categories: list[str]
    translate: list[bool]
    series: list[Series]
    percent: bool = False


@dataclass(frozen=True)
class Dashboard:
    period: Period
    unit: str | None  # whose appeals: None for every appeal (ops)
    overall: RatesRowIn
    months: list[GroupRow]
    channels: list[GroupRow]
    categories: list[GroupRow]
    communities: list[GroupRow]
    officers: list[Ranked]
    units: list[Ranked]
    five_ones: FiveOnes | None  # None: not for this person

    @property
    def charts(self) -> list[Chart]:
        return [
            Chart(
                "rates_by_month",
                "line",
                [r.key for r in self.months],
                [False] * len(self.months),
                [
                    Series(
                        RATE_WORDS[name], [chart_percent(r.ratio(name).rate) for r in self.months]
                    )
                    for name in RATE_NAMES
                ],
                percent=True,
            ),
            _volume_chart("volume_by_month", self.months, kind="bar"),
            _volume_chart("volume_by_channel", self.channels),
            _volume_chart("volume_by_category", self.categories),
            _volume_chart("volume_by_community", self.communities),
            _ranking_chart("officer_ranking", self.officers),
            _ranking_chart("unit_ranking", self.units),
            *([_five_ones_chart(self.five_ones)] if self.five_ones is not None else []),
        ]


# The English words the charts carry (the catalogue translates them; words.py lists them).
RATE_WORDS = {
    "response": "Response rate",
    "resolution": "Resolution rate",
    "satisfaction": "Satisfaction rate",
    "on_time": "On-time rate",
}
APPEALS_WORD = "Appeals"
COMPOSITE_WORD = "Composite rate"
CONTACTED_WORD = "Enterprises contacted"
UNCONTACTED_WORD = "Enterprises not yet contacted"
WORDS = (
    *RATE_WORDS.values(),
    APPEALS_WORD,
    COMPOSITE_WORD,
    CONTACTED_WORD,
    UNCONTACTED_WORD,
    UNKNOWN,
    UNASSIGNED,
    *(p.value for p in Preset),
)


def _volume_chart(key: str, rows: list[GroupRow], kind: ChartKind = "hbar") -> Chart:
    return Chart(
        key,
        kind,
        [r.label for r in rows],
        [r.translate for r in rows],
        [Series(APPEALS_WORD, [float(r.total) for r in rows])],
    )


def _ranking_chart(key: str, ranked: list[Ranked]) -> Chart:
    shown = [r for r in ranked if r.rank is not None]
    return Chart(
        key,
        "hbar",
        [r.row.label for r in shown],
        [r.row.translate for r in shown],
        [Series(COMPOSITE_WORD, [chart_percent(r.row.composite) for r in shown])],
        percent=True,
    )


def _five_ones_chart(five_ones: FiveOnes) -> Chart:
    return Chart(
        "five_ones",
        "stacked_hbar",
        [r.name for r in five_ones.rows],
        [False] * len(five_ones.rows),
        [
            Series(CONTACTED_WORD, [float(r.contacted) for r in five_ones.rows]),
            Series(UNCONTACTED_WORD, [float(r.uncontacted) for r in five_ones.rows]),
        ],
    )


def chart_data(charts: Iterable[Chart], word: Callable[[str], str]) -> dict[str, Any]:
    """The JSON the page embeds for dashboard.js, its words in the person's language."""
    return {
        chart.key: {
            "kind": chart.kind,
            "percent": chart.percent,
            "categories": [
                word(c) if translated else c
                for c, translated in zip(chart.categories, chart.translate, strict=True)
            ],
            "series": [{"name": word(s.name), "data": s.values} for s in chart.series],
        }
        for chart in charts
    }


def _rows(report: RatesReportIn) -> dict[str, RatesRowIn]:
    return {row.group or UNKNOWN: row for row in report.rows}


def by_volume(report: RatesReportIn, *, translate: bool) -> list[GroupRow]:
    """The report's groups, most appeals first (ties by key): the order a bar chart reads."""
    rows = [
        GroupRow(key, key, translate or key == UNKNOWN, row) for key, row in _rows(report).items()
    ]
    return sorted(rows, key=lambda r: (-r.total, r.key))


def by_month(report: RatesReportIn, period: Period) -> list[GroupRow]:
    """Every month of the period in order, those without appeals included (no rates)."""
    found = _rows(report)
    return [GroupRow(m, m, False, found.get(m)) for m in period.months]


def ranking(
    report: RatesReportIn,
    names: Mapping[str, str],
    units: Mapping[str, str] | None = None,
) -> list[Ranked]:
    """Groups ranked by the composite rate, highest first (ties share a rank and are listed by
    name); groups without one follow, unranked. `names`: the label of each group (an officer's
    or unit's name), `units`: an officer's unit, if known."""
    rows = []
    for key, rates in _rows(report).items():
        known = names.get(key)
        label = known if known else key
        rows.append(GroupRow(key, label, known is None and key in (UNKNOWN, UNASSIGNED), rates))
    scored = sorted(
        (r for r in rows if r.composite is not None),
        key=lambda r: (-(r.composite or 0.0), r.label, r.key),
    )
    ranked: list[Ranked] = []
    for position, row in enumerate(scored, start=1):
        previous = ranked[-1] if ranked else None
        same = previous is not None and previous.row.composite == row.composite
        rank = previous.rank if same and previous is not None else position
        ranked.append(Ranked(rank, row, (units or {}).get(row.key)))
    unscored = sorted((r for r in rows if r.composite is None), key=lambda r: (r.label, r.key))
    ranked.extend(Ranked(None, row, (units or {}).get(row.key)) for row in unscored)
    return ranked


def five_ones(report: FiveOnesIn, names: Mapping[str, str]) -> FiveOnes:
    """Each CSO's five ones, least contacted share first (whom to chase), by name."""
    rows = [
        FiveOnesRow(
            officer_id=item.officer_id,
            name=item.name or names.get(item.officer_id) or item.officer_id,
            unit=item.unit or "",
            enterprises_total=item.enterprises_total,
            contacted=item.contacted,
            uncontacted=len(item.uncontacted),
            visits=item.visits,
            problems_solved=item.problems_solved,
            complete=item.complete,
        )
        for item in report.items
    ]

    def share(row: FiveOnesRow) -> float:
        return row.contacted / row.enterprises_total if row.enterprises_total else 1.0

    rows.sort(key=lambda r: (share(r), r.name, r.officer_id))
    return FiveOnes(report.month, rows)


def dashboard(
    period: Period,
    reports: Mapping[str, RatesReportIn],
    *,
    officer_names: Mapping[str, str],
    officer_units: Mapping[str, str],
    unit_names: Mapping[str, str],
    five_ones_report: FiveOnesIn | None,
) -> Dashboard:
    """The page from one rates report per grouping (GROUPINGS), the directory's names, and the
    five-ones report (None when the person may not read it)."""
    first = reports[GROUPINGS[0]]
    return Dashboard(
        period=period,
        unit=first.unit,
        overall=first.overall,
        months=by_month(reports["month"], period),
        channels=by_volume(reports["channel"], translate=True),
        categories=by_volume(reports["category"], translate=True),
        communities=by_volume(reports["community"], translate=False),
        officers=ranking(reports["officer"], officer_names, officer_units),
        units=ranking(reports["unit"], unit_names),
        five_ones=None if five_ones_report is None else five_ones(five_ones_report, officer_names),
    )
