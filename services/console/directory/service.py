"""The directory page's rules (pure: no I/O): who sees the edit controls, which officers a page
shows, leave periods as one line of text and back, a row's form as dispatch's PATCH body, and
dispatch's answers read into models at the boundary."""

from __future__ import annotations

import re
from datetime import date
from math import ceil
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

from services.console.signin.service import Person
from shared.http import MAX_BODY_BYTES
from shared.identity import Role

# The roles dispatch lets change the directory (its `Editor` dependency): the page offers the
# controls to them only, and dispatch still decides every change.
EDITOR_ROLES = (Role.OPS, Role.SUPERVISOR)
PAGE_SIZE = 50
DUTY_POSTS = ("dispatcher", "supervisor")
# What every service (dispatch, the console) takes in one request body.
ROSTER_MAX_BYTES = MAX_BODY_BYTES


def may_edit(person: Person) -> bool:
    return person.has_any(*EDITOR_ROLES)


# --- dispatch's answers ----------------------------------------------------------------------


class LeavePeriod(BaseModel):
    start: date
    end: date
    note: str = ""


class Officer(BaseModel):
    """An officer as dispatch's `GET /v1/officers` gives them (the fields the page shows)."""

    model_config = ConfigDict(extra="ignore")

    officer_id: str
    name: str
    role: str
    unit: str
    on_duty: bool
    leave: list[LeavePeriod]
    on_leave_today: bool
    capacity: int
    open_assignments: int

    @property
    def leave_line(self) -> str:
        return leave_text(self.leave)


class DutyPost(BaseModel):
    model_config = ConfigDict(extra="ignore")

    post: str
    officer_id: str | None
    officer_name: str | None


class RosterRowError(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sheet: str
    row: int
    field: str | None
    value: str | None
    message: str


class RosterSheet(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    kind: str
    header_row: int
    rows: int
    ignored_columns: list[str]


class DirectoryCounts(BaseModel):
    officers: int
    enterprises: int
    departments: int
    duty: int


class RosterResult(BaseModel):
    """Dispatch's report of a roster import (`POST /v1/directory/roster`)."""

    model_config = ConfigDict(extra="ignore")

    source: str
    strict: bool
    dry_run: bool
    committed: bool
    rows_read: int
    rows_rejected: int
    sheets: list[RosterSheet]
    skipped_sheets: list[str]
    errors: list[RosterRowError]
    good: DirectoryCounts
    changed: DirectoryCounts | None


# --- the list --------------------------------------------------------------------------------


class DirectoryFilters(BaseModel):
    """The list's filters, from the query string (`page` counts from 1)."""

    unit: str = Field("", max_length=200)
    role: str = Field("", max_length=100)
    q: str = Field("", max_length=200)
    page: int = Field(1, ge=1, le=10_000)

    def query(self, **changes: Any) -> str:
        """The query string of these filters (with `changes`), defaults left out."""
        values = {**self.model_dump(), **changes}
        return urlencode({k: v for k, v in values.items() if v not in ("", None, 1)})


class DirectoryView(BaseModel):
    officers: list[Officer]
    total: int  # officers matching the filters
    pages: int
    page: int
    units: list[str]
    roles: list[str]
    duty: list[DutyPost]
    choices: list[Officer]  # everyone a duty post may be handed to, by unit and name


def _matches(officer: Officer, filters: DirectoryFilters) -> bool:
    if filters.unit and officer.unit != filters.unit:
        return False
    if filters.role and officer.role != filters.role:
        return False
    needle = filters.q.strip().casefold()
    return not needle or needle in officer.officer_id.casefold() or needle in officer.name


def directory_view(
    officers: list[Officer], duty: list[DutyPost], filters: DirectoryFilters
) -> DirectoryView:
    """The page of officers the filters ask for, by unit, role and name; the units and roles
    to filter by; the duty posts in a fixed order and who may hold them."""
    ordered = sorted(officers, key=lambda o: (o.unit, o.role, o.name, o.officer_id))
    matching = [o for o in ordered if _matches(o, filters)]
    pages = max(1, ceil(len(matching) / PAGE_SIZE))
    page = min(filters.page, pages)
    shown = matching[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    posts = {d.post: d for d in duty}
    return DirectoryView(
        officers=shown,
        total=len(matching),
        pages=pages,
        page=page,
        units=sorted({o.unit for o in officers}),
        roles=sorted({o.role for o in officers}),
        duty=[
            posts.get(p, DutyPost(post=p, officer_id=None, officer_name=None)) for p in DUTY_POSTS
        ],
        choices=sorted(officers, key=lambda o: (o.unit, o.name, o.officer_id)),
    )


# --- leave as text ---------------------------------------------------------------------------

# `2026-12-01~2026-12-05（年假）`: a day or a range, both ends included, a note in brackets
# (full-width or not) — what a roster's 休假 column holds, so one way of writing leave serves
# both.
_PERIOD = re.compile(
    r"^(?P<start>\d{4}-\d{2}-\d{2})(?:\s*[~～至]\s*(?P<end>\d{4}-\d{2}-\d{2}))?"
    r"\s*(?:[（(](?P<note>[^（）()]*)[）)])?$"
)


class LeaveUnreadable(ValueError):
    """Leave text that is not periods (`item`: the part that is not)."""

    def __init__(self, item: str) -> None:
        super().__init__(item)
        self.item = item


def leave_text(periods: list[LeavePeriod]) -> str:
    parts = []
    for period in periods:
        part = period.start.isoformat()
        if period.end != period.start:
            part += "~" + period.end.isoformat()
        if period.note:
            part += f"（{period.note}）"
        parts.append(part)
    return "; ".join(parts)


def parse_leave(text: str) -> list[dict[str, str]]:
    """Periods as dispatch takes them (JSON-ready); whether each ends after it starts is
    dispatch's to say."""
    periods: list[dict[str, str]] = []
    for item in re.split(r"[;；,，\n]", text):
        item = item.strip()
        if not item:
            continue
        found = _PERIOD.match(item)
        if found is None:
            raise LeaveUnreadable(item)
        try:
            start = date.fromisoformat(found["start"])
            end = date.fromisoformat(found["end"] or found["start"])
        except ValueError:
            raise LeaveUnreadable(item) from None
        periods.append(
            {"start": start.isoformat(), "end": end.isoformat(), "note": found["note"] or ""}
        )
    return periods


# --- a row's form ----------------------------------------------------------------------------


class OfficerEdit(BaseModel):
    """What a row's form holds, as typed (kept to show again beside a refusal)."""

    on_duty: bool
    capacity: str = Field(max_length=20)
    leave: str = Field(max_length=2000)


def edit_of(form: dict[str, str]) -> OfficerEdit:
    """A row's form: an unticked checkbox is not sent at all, so its absence is "off duty"."""
    return OfficerEdit(
        on_duty=form.get("on_duty") == "on",
        capacity=form.get("capacity", "").strip()[:20],
        leave=form.get("leave", "").strip()[:2000],
    )


def officer_patch(edit: OfficerEdit) -> dict[str, Any]:
    """Dispatch's PATCH body for the row. A capacity that is not a whole number goes as typed,
    so dispatch's reason says what it takes. LeaveUnreadable for leave that is not periods."""
    capacity: int | str = (
        int(edit.capacity) if re.fullmatch(r"-?\d+", edit.capacity) else edit.capacity
    )
    return {"on_duty": edit.on_duty, "capacity": capacity, "leave": parse_leave(edit.leave)}


def problem_field(fields: dict[str, str]) -> str | None:
    """Which of the row's controls dispatch's refusal names (a leave period is named by its
    index under `leave`: the leave control)."""
    for name in ("capacity", "on_duty", "leave"):
        if name in fields:
            return name
    if any(key.isdigit() for key in fields):
        return "leave"
    return None
