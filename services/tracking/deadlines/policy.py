"""Deadline policy (issue 6): when each stage of an appeal is due, which limit set it and why,
and the instants that follow from a due time (the 80 % warning, the urging at the limit, the
public notice). Pure: no clock, no I/O; the calendar is passed in.

Decisions, so nobody has to guess:

- **Stages**: acknowledge (签收), first contact with the appellant, resolve (办结, "reply" in the
  Guangdong rules), follow-up (回访). The first three count from the receipt; the follow-up counts
  from the resolution (`resolved_at`), or, before there is one, from the resolve due time (the
  latest it may start), and says which (`start_basis`).
- **Limits** are working days ("15 working days": the end of the 15th working day after the day
  the count starts, see working_days.py) or clock time ("2 hours", "30 minutes": wall-clock,
  nights, weekends and holidays included — emergencies do not wait for Monday).
- **Rules** per stage: a `default`, and limits per appeal `type`, `urgency` and `category`. Every
  rule that matches the appeal is a candidate; **the strictest wins**: the candidate with the
  earliest due time for this receipt (a working-day and an hour limit only compare at a given
  instant). Ties go to urgency, then category, then type, then default. The deadline keeps the
  winner and every candidate, so the history can say "emergency: 2 hours" beat
  "complaint: 15 working days".
- **Caps**: acknowledging and first contact are never due after the resolution; when the resolve
  deadline is earlier (an emergency resolved within 2 hours), it is theirs, "capped by resolve".
- **The 80 % warning** (`warn_fraction`): for a clock limit, 80 % of the wall-clock span from
  start to due. For a working-day limit, 80 % of the **working days** granted, each counted as a
  whole day (00:00–24:00) and the day of receipt not at all: 15 working days warn at the end of
  the 12th, 10 at the end of the 8th, 2 at 14:24 on the 2nd (1.6 days). Weekends and holidays do
  not eat into the warning period.
- **Urging** (催办) and escalation to the officer's supervisor happen at the due time itself.
  **The public notice** (通报) is due if the stage is still overdue at the end of the 5th
  (`public_notice_after_working_days`) working day after the day it fell due.
- **Extensions** (延期) are in working days, asked for no later than the due time: the new due is
  the end of the Nth working day after the day the current due falls on (for a clock deadline,
  the rest of its day comes free). Warning and public-notice instants move with it; the start
  and the rule stay, and every extension is kept, with its reason.
- **Configuration** is a mapping (`DeadlinePolicy.from_mapping`) merged into the defaults
  (`DEFAULT_POLICY`): give only what changes; `null` removes a default rule. Every problem is
  reported at once (PolicyError).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from services.tracking.deadlines.working_days import (
    WorkingCalendar,
    end_of_day,
    local_date,
    start_of_day,
)
from shared.vocabulary import AppealType, Category, Urgency


class Stage(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    FIRST_CONTACT = "first_contact"
    RESOLVE = "resolve"
    FOLLOW_UP = "follow_up"


class LimitUnit(StrEnum):
    WORKING_DAYS = "working_days"
    HOURS = "hours"
    MINUTES = "minutes"


class Dimension(StrEnum):
    """What a rule matches on; the order of the members breaks ties (first wins)."""

    URGENCY = "urgency"
    CATEGORY = "category"
    TYPE = "type"
    DEFAULT = "default"


_TIE_ORDER = {d: i for i, d in enumerate(Dimension)}
_VALUES: dict[Dimension, type[StrEnum]] = {
    Dimension.TYPE: AppealType,
    Dimension.URGENCY: Urgency,
    Dimension.CATEGORY: Category,
}


class PolicyError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("deadline policy: " + "; ".join(problems))


class ExtensionRefused(ValueError):
    pass


# --- limits and rules ----------------------------------------------------------------------

_LIMIT = re.compile(
    r"^\s*(?P<amount>\d+)\s*(?P<unit>working[ _-]?days?|wd|hours?|h|minutes?|mins?)\s*$", re.I
)


@dataclass(frozen=True)
class Limit:
    amount: int
    unit: LimitUnit

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 1:
            raise ValueError(f"a limit is a whole number of at least 1, not {self.amount!r}")
        object.__setattr__(self, "unit", LimitUnit(self.unit))

    @classmethod
    def working_days(cls, n: int) -> Limit:
        return cls(n, LimitUnit.WORKING_DAYS)

    @classmethod
    def hours(cls, n: int) -> Limit:
        return cls(n, LimitUnit.HOURS)

    @classmethod
    def minutes(cls, n: int) -> Limit:
        return cls(n, LimitUnit.MINUTES)

    @classmethod
    def parse(cls, text: str | Limit) -> Limit:
        """ "15 working days", "2 hours", "30 minutes" (also "15wd", "24h", "30min")."""
        if isinstance(text, Limit):
            return text
        match = _LIMIT.match(text) if isinstance(text, str) else None
        if not match:
            raise ValueError(
                f"{text!r} is not a limit (say e.g. '15 working days', '2 hours', '30 minutes')"
            )
        unit = match["unit"].lower()
        if unit.startswith("w"):
            kind = LimitUnit.WORKING_DAYS
        elif unit.startswith("h"):
            kind = LimitUnit.HOURS
        else:
            kind = LimitUnit.MINUTES
        return cls(int(match["amount"]), kind)

    @property
    def is_clock(self) -> bool:
        return self.unit is not LimitUnit.WORKING_DAYS

    def __str__(self) -> str:
        noun = {
            LimitUnit.WORKING_DAYS: "working day",
            LimitUnit.HOURS: "hour",
            LimitUnit.MINUTES: "minute",
        }[self.unit]
        return f"{self.amount} {noun}{'' if self.amount == 1 else 's'}"

    def due(self, start: datetime, calendar: WorkingCalendar) -> datetime:
        local_date(start)  # refuses a naive datetime
        if self.unit is LimitUnit.WORKING_DAYS:
            return calendar.add_working_days(start, self.amount)
        if self.unit is LimitUnit.HOURS:
            return start + timedelta(hours=self.amount)
        return start + timedelta(minutes=self.amount)


@dataclass(frozen=True)
class Rule:
    dimension: Dimension
    value: str | None  # the type / urgency / category it matches; None for the default
    limit: Limit

    @property
    def label(self) -> str:
        return self.value if self.value is not None else "default"

    def __str__(self) -> str:
        return f"{self.label}: {self.limit}"


@dataclass(frozen=True)
class Candidate:
    rule: Rule
    due_at: datetime


@dataclass(frozen=True)
class Extension:
    working_days: int
    reason: str
    requested_at: datetime
    previous_due_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class StageDeadline:
    stage: Stage
    start: datetime
    start_basis: str  # "received", "resolved" or "resolve due"
    due_at: datetime  # urging (催办) and escalation at this instant; on time iff done <= due_at
    rule: Rule  # the limit that applied
    candidates: tuple[Candidate, ...]  # every rule that matched, strictest first
    warn_at: datetime  # the 80 % warning
    public_notice_at: datetime  # 通报 if still overdue at this instant
    capped_by: Stage | None = None  # the rule is that stage's (it was due earlier)
    extensions: tuple[Extension, ...] = ()

    @property
    def reason(self) -> str:
        """For the history: which limit applied and what it beat, e.g.
        "emergency: 2 hours (stricter than complaint: 15 working days)"."""
        text = str(self.rule)
        if self.capped_by is not None:
            text = f"capped by {self.capped_by}: {text}"
        beaten = [str(c.rule) for c in self.candidates if c.rule != self.rule]
        if beaten:
            text += f" (stricter than {', '.join(beaten)})"
        for ext in self.extensions:
            text += f"; extended by {Limit.working_days(ext.working_days)}: {ext.reason}"
        return text

    def is_overdue(self, at: datetime) -> bool:
        return at > self.due_at

    def to_record(self) -> dict[str, Any]:
        """JSON-friendly, for the history."""
        return {
            "stage": str(self.stage),
            "start": self.start.isoformat(),
            "start_basis": self.start_basis,
            "due_at": self.due_at.isoformat(),
            "warn_at": self.warn_at.isoformat(),
            "public_notice_at": self.public_notice_at.isoformat(),
            "rule": {
                "dimension": str(self.rule.dimension),
                "value": self.rule.value,
                "limit": str(self.rule.limit),
            },
            "capped_by": str(self.capped_by) if self.capped_by else None,
            "candidates": [
                {"rule": str(c.rule), "due_at": c.due_at.isoformat()} for c in self.candidates
            ],
            "extensions": [
                {
                    "working_days": e.working_days,
                    "reason": e.reason,
                    "requested_at": e.requested_at.isoformat(),
                    "previous_due_at": e.previous_due_at.isoformat(),
                    "due_at": e.due_at.isoformat(),
                }
                for e in self.extensions
            ],
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Schedule:
    acknowledge: StageDeadline
    first_contact: StageDeadline
    resolve: StageDeadline
    follow_up: StageDeadline

    def __getitem__(self, stage: Stage | str) -> StageDeadline:
        deadline: StageDeadline = getattr(self, str(Stage(stage)))
        return deadline

    def __iter__(self) -> Iterator[StageDeadline]:
        return iter((self.acknowledge, self.first_contact, self.resolve, self.follow_up))


# --- instants that follow from a due time --------------------------------------------------


def warning_instant(
    start: datetime,
    due_at: datetime,
    *,
    working_time: bool,
    calendar: WorkingCalendar,
    fraction: Fraction | float = Fraction(4, 5),
) -> datetime:
    """`fraction` of the way from start to due: in wall-clock time, or (working_time) in whole
    working days after the day of `start` (see the module's docstring)."""
    fraction = Fraction(fraction).limit_denominator(1000)
    granted = calendar.working_days_between(start, due_at) if working_time else 0
    if granted < 1:
        return start + (due_at - start) * fraction.numerator / fraction.denominator
    target = fraction * granted
    whole, part = divmod(target, 1)
    if part == 0:
        return end_of_day(calendar.working_day_after(start, int(whole)))
    day = calendar.working_day_after(start, int(whole) + 1)
    return start_of_day(day) + timedelta(days=1) * part.numerator / part.denominator


def public_notice_instant(
    due_at: datetime, calendar: WorkingCalendar, working_days: int = 5
) -> datetime:
    """The end of the `working_days`th working day after the day the stage fell due."""
    return calendar.add_working_days(due_at, working_days)


# --- the policy ----------------------------------------------------------------------------

DEFAULT_POLICY: Mapping[str, Any] = MappingProxyType(
    {
        # 80 % of a limit: a warning.
        "warn_fraction": 0.8,
        # Still overdue this many working days after the limit: a public notice (通报).
        "public_notice_after_working_days": 5,
        "stages": {
            # Units must usually acknowledge (签收) within 24 hours.
            "acknowledge": {"default": "24 hours"},
            # "Contact the appellant quickly (30 min to 2 h in some cities)"; no Guangdong figure.
            "first_contact": {"default": "24 hours", "urgency": {"emergency": "2 hours"}},
            # Guangdong 12345 (working days from receipt); Beijing's emergencies and utilities.
            "resolve": {
                "type": {
                    "consultation": "2 working days",
                    "help": "10 working days",
                    "suggestion": "10 working days",
                    "complaint": "15 working days",
                    "report": "15 working days",
                },
                "urgency": {"emergency": "2 hours"},
                "category": {"utilities": "24 hours"},
            },
            # The call-back (回访) after the resolution: no published figure; our choice.
            "follow_up": {"default": "5 working days"},
        },
    }
)

_CAPPED_BY_RESOLVE = (Stage.ACKNOWLEDGE, Stage.FIRST_CONTACT)


@dataclass(frozen=True)
class StageRules:
    default: Limit | None = None
    by: Mapping[Dimension, Mapping[str, Limit]] = field(default_factory=dict)

    def matching(self, appeal_type: str, urgency: str, category: str) -> list[Rule]:
        wanted = {
            Dimension.TYPE: str(appeal_type),
            Dimension.URGENCY: str(urgency),
            Dimension.CATEGORY: str(category),
        }
        rules = [
            Rule(dimension, wanted[dimension], limits[wanted[dimension]])
            for dimension, limits in self.by.items()
            if wanted[dimension] in limits
        ]
        if self.default is not None:
            rules.append(Rule(Dimension.DEFAULT, None, self.default))
        return rules


@dataclass(frozen=True)
class DeadlinePolicy:
    stages: Mapping[Stage, StageRules]
    warn_fraction: Fraction = Fraction(4, 5)
    public_notice_after_working_days: int = 5

    @classmethod
    def default(cls) -> DeadlinePolicy:
        return cls.from_mapping({})

    @classmethod
    def from_file(cls, path: str | Path | None) -> DeadlinePolicy:
        """The policy file ops edit (YAML, merged into the defaults); None: the defaults."""
        if path is None:
            return cls.default()
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise PolicyError([f"{path}: cannot read the file: {exc.strerror}"]) from None
        except yaml.YAMLError as exc:
            raise PolicyError([f"{path}: not valid YAML: {exc}"]) from None
        if raw is not None and not isinstance(raw, dict):
            raise PolicyError([f"{path}: expected a mapping"])
        return cls.from_mapping(raw)

    @classmethod
    def from_mapping(
        cls, raw: Mapping[str, Any] | None, *, base: Mapping[str, Any] = DEFAULT_POLICY
    ) -> DeadlinePolicy:
        """`raw` merged into `base` (mappings merge key by key, `null` removes a key)."""
        merged = _merge(_plain(base), _plain(raw or {}))
        problems: list[str] = []
        unknown = sorted(
            set(merged) - {"warn_fraction", "public_notice_after_working_days", "stages"}
        )
        problems += [f"{key}: unknown key" for key in unknown]
        warn = merged.get("warn_fraction", 0.8)
        if isinstance(warn, bool) or not isinstance(warn, int | float) or not 0 < warn < 1:
            problems.append(f"warn_fraction: {warn!r} is not a fraction between 0 and 1")
            warn = 0.8
        notice = merged.get("public_notice_after_working_days", 5)
        if isinstance(notice, bool) or not isinstance(notice, int) or notice < 1:
            problems.append(
                f"public_notice_after_working_days: {notice!r} is not a whole number ≥ 1"
            )
            notice = 5
        stages_raw = merged.get("stages") or {}
        if not isinstance(stages_raw, dict):
            problems.append("stages: expected a mapping")
            stages_raw = {}
        for key in sorted(set(map(str, stages_raw)) - {s.value for s in Stage}):
            problems.append(f"stages.{key}: unknown stage (expected {', '.join(Stage)})")
        stages = {
            stage: _stage_rules(stage, stages_raw.get(stage.value) or {}, problems)
            for stage in Stage
        }
        if problems:
            raise PolicyError(problems)
        return cls(
            stages=MappingProxyType(stages),
            warn_fraction=Fraction(str(warn)),
            public_notice_after_working_days=notice,
        )

    # -- deadlines

    def stage_deadline(
        self,
        stage: Stage,
        appeal_type: AppealType | str,
        urgency: Urgency | str,
        category: Category | str,
        start: datetime,
        calendar: WorkingCalendar,
        *,
        start_basis: str = "received",
    ) -> StageDeadline:
        """One stage, counted from `start`, by the strictest matching rule (no caps)."""
        rules = self.stages[Stage(stage)].matching(appeal_type, urgency, category)
        candidates = sorted(
            (Candidate(rule, rule.limit.due(start, calendar)) for rule in rules),
            key=lambda c: (c.due_at, _TIE_ORDER[c.rule.dimension]),
        )
        winner = candidates[0]
        return self._finish(
            StageDeadline(
                stage=Stage(stage),
                start=start,
                start_basis=start_basis,
                due_at=winner.due_at,
                rule=winner.rule,
                candidates=tuple(candidates),
                warn_at=winner.due_at,
                public_notice_at=winner.due_at,
            ),
            calendar,
        )

    def schedule(
        self,
        appeal_type: AppealType | str,
        urgency: Urgency | str,
        category: Category | str,
        received_at: datetime,
        calendar: WorkingCalendar,
        *,
        resolved_at: datetime | None = None,
        basis: str = "received",
    ) -> Schedule:
        """Every stage of one appeal (see the module's docstring for the follow-up's start).
        `basis` names what `received_at` is (a reopened appeal starts afresh: "reopened")."""
        key = (appeal_type, urgency, category)
        resolve = self.stage_deadline(Stage.RESOLVE, *key, received_at, calendar, start_basis=basis)
        early: dict[Stage, StageDeadline] = {}
        for stage in _CAPPED_BY_RESOLVE:
            own = self.stage_deadline(stage, *key, received_at, calendar, start_basis=basis)
            if resolve.due_at < own.due_at:
                own = self._finish(
                    replace(own, due_at=resolve.due_at, rule=resolve.rule, capped_by=Stage.RESOLVE),
                    calendar,
                )
            early[stage] = own
        if resolved_at is not None:
            follow_start, basis = resolved_at, "resolved"
        else:
            follow_start, basis = resolve.due_at, "resolve due"
        follow_up = self.stage_deadline(
            Stage.FOLLOW_UP, *key, follow_start, calendar, start_basis=basis
        )
        return Schedule(
            acknowledge=early[Stage.ACKNOWLEDGE],
            first_contact=early[Stage.FIRST_CONTACT],
            resolve=resolve,
            follow_up=follow_up,
        )

    def extend(
        self,
        deadline: StageDeadline,
        working_days: int,
        *,
        requested_at: datetime,
        reason: str,
        calendar: WorkingCalendar,
    ) -> StageDeadline:
        """延期: the due moves to the end of the `working_days`th working day after the day of
        the current due. Asked for after the due time, with no reason, or for < 1 day: refused."""
        if isinstance(working_days, bool) or not isinstance(working_days, int) or working_days < 1:
            raise ExtensionRefused(f"an extension is at least 1 working day, not {working_days!r}")
        if not reason.strip():
            raise ExtensionRefused("an extension needs a reason")
        if requested_at > deadline.due_at:
            raise ExtensionRefused(
                f"an extension must be asked for before the deadline "
                f"({deadline.due_at.isoformat()}); asked {requested_at.isoformat()}"
            )
        new_due = calendar.add_working_days(deadline.due_at, working_days)
        record = Extension(working_days, reason.strip(), requested_at, deadline.due_at, new_due)
        return self._finish(
            replace(deadline, due_at=new_due, extensions=(*deadline.extensions, record)), calendar
        )

    def _finish(self, deadline: StageDeadline, calendar: WorkingCalendar) -> StageDeadline:
        """The warning and public-notice instants of a deadline's current due time."""
        return replace(
            deadline,
            warn_at=warning_instant(
                deadline.start,
                deadline.due_at,
                working_time=not deadline.rule.limit.is_clock,
                calendar=calendar,
                fraction=self.warn_fraction,
            ),
            public_notice_at=public_notice_instant(
                deadline.due_at, calendar, self.public_notice_after_working_days
            ),
        )


def _stage_rules(stage: Stage, raw: Any, problems: list[str]) -> StageRules:
    where = f"stages.{stage}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping with default, type, urgency, category")
        return StageRules()
    allowed = {d.value for d in Dimension}
    for key in sorted(set(map(str, raw)) - allowed):
        problems.append(f"{where}.{key}: unknown key (expected {', '.join(sorted(allowed))})")
    default = None
    if raw.get("default") is not None:
        default = _limit(raw["default"], f"{where}.default", problems)
    by: dict[Dimension, Mapping[str, Limit]] = {}
    for dimension, vocabulary in _VALUES.items():
        entries = raw.get(dimension.value) or {}
        if not isinstance(entries, dict):
            problems.append(f"{where}.{dimension}: expected a mapping of {dimension} to limit")
            continue
        limits: dict[str, Limit] = {}
        for value, text in entries.items():
            if text is None:
                continue
            if str(value) not in {v.value for v in vocabulary}:
                known = ", ".join(v.value for v in vocabulary)
                problems.append(f"{where}.{dimension}.{value}: unknown {dimension} ({known})")
                continue
            limit = _limit(text, f"{where}.{dimension}.{value}", problems)
            if limit is not None:
                limits[str(value)] = limit
        if limits:
            by[dimension] = MappingProxyType(limits)
    if default is None:
        by_type = by.get(Dimension.TYPE, {})
        missing = [t.value for t in AppealType if t.value not in by_type]
        if missing:
            problems.append(f"{where}: no default and no limit for type {', '.join(missing)}")
    return StageRules(default=default, by=MappingProxyType(by))


def _limit(text: Any, where: str, problems: list[str]) -> Limit | None:
    try:
        return Limit.parse(text)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return copy.deepcopy(value)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
