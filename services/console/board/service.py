"""The unit board as the page shows it (pure: no I/O, the clock handed in): the search's filters
and the query tracking gets, the table's rows and their cells (the same cells the CSV export
writes, so the file holds exactly what the page shows), the officers' load, the requests
awaiting a ruling, and the bodies of the actions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from pydantic import BaseModel, ConfigDict, Field

from services.console.pages import local_time
from services.console.queue.service import Punctuality, punctuality_of
from shared.identity import Role

# Rows per page of the table: the board reads one page of the search, never the whole unit.
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
# The yes/no filters tracking's search takes; "" leaves one out.
FLAGS = ("open", "overdue", "due_soon", "urged", "escalated", "unreasonable")
CHOICES = ("", "true", "false")
# The headline: buckets of the unit's open appeals, each a link that filters the table on it.
HEADLINE = ("open", "due_soon", "overdue", "urged", "escalated")
# The marks a row may carry, in the order the table shows them.
MARKS = ("urged", "escalated", "unreasonable")
DECISIONS = ("grant", "refuse")
RULINGS = ("accept", "reject")
# The table's columns, in order, with the words their headers show (the CSV's header row too).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("tracking_code", "Tracking code"),
    ("summary", "Summary"),
    ("status", "Status"),
    ("category", "Category"),
    ("channel", "Channel"),
    ("officer", "Officer"),
    ("due", "Due"),
    ("punctuality", "Punctuality"),
    ("marks", "Marks"),
)
# Words the cells show that come from no data vocabulary: each is in board.html too, so the
# catalogue holds them (tests/unit/test_console_board.py checks).
CELL_WORDS = MARKS


class BoardFilters(BaseModel):
    """The board's search, as the form sends it (text, so what was typed comes back as typed,
    and tracking judges it): every filter of tracking's `GET /v1/appeals`, the page size and
    the page's cursor. Open appeals unless the person says otherwise."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    status: str = ""
    open: str = "true"
    unit: str = ""
    officer: str = ""
    channel: str = ""
    category: str = ""
    overdue: str = ""
    due_soon: str = ""
    urged: str = ""
    escalated: str = ""
    unreasonable: str = ""
    from_: str = Field(default="", alias="from")
    to: str = ""
    q: str = ""
    limit: str = str(DEFAULT_PAGE_SIZE)
    cursor: str = ""

    @classmethod
    def from_query(cls, query: str) -> BoardFilters:
        """The filters a query string holds (a form's `back` field: where to come back to)."""
        return cls.model_validate(dict(parse_qsl(query, keep_blank_values=True)))

    @property
    def page_size(self) -> int:
        size = int(self.limit) if self.limit.isdigit() else DEFAULT_PAGE_SIZE
        return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE

    def search_params(self) -> dict[str, str]:
        """Tracking's query: each filter given, as typed (its 422 names what it refuses)."""
        given = self.model_dump(by_alias=True, exclude={"limit", "cursor"})
        params = {name: value.strip() for name, value in given.items() if value.strip()}
        return params

    def query(self, **changes: str) -> str:
        """This search as a query string, with `changes` (a cursor, another flag); empty
        values are left out, except `open` (absent, it means open appeals)."""
        values = {**self.model_dump(by_alias=True), **changes}
        kept = {k: v for k, v in values.items() if v or k == "open"}
        if kept.get("limit") == str(DEFAULT_PAGE_SIZE):
            del kept["limit"]
        return urlencode(kept)

    def only(self, flag: str) -> str:
        """A headline count's link: the open appeals of that bucket, nothing else filtered."""
        plain = BoardFilters(limit=self.limit)
        return plain.query(**({} if flag == "open" else {flag: "true"}))


def punctuality(item: dict[str, Any], now: datetime) -> Punctuality:
    """As the officer's queue has it (search items carry the due time, not the time left)."""
    due = item.get("due_at")
    left = (datetime.fromisoformat(due) - now).total_seconds() if due else None
    return punctuality_of(bool(item.get("overdue")), left)


def marks_of(item: dict[str, Any]) -> list[str]:
    return [mark for mark in MARKS if item.get(mark)]


class BoardRow(BaseModel):
    """One appeal of the table: its search item, what the page adds, and its cells' text."""

    appeal_id: str
    tracking_code: str
    status: str | None
    officer_id: str | None
    assistant_ids: list[str]
    assistants: list[str]  # their names, where the directory has them
    punctuality: str
    marks: list[str]
    unreasonable: bool
    cells: dict[str, str]


def board_rows(
    items: Iterable[dict[str, Any]],
    names: dict[str, str],
    now: datetime,
    words: Callable[[str], str],
) -> list[BoardRow]:
    """The table's rows, in the search's order, each with its cells in the person's words."""
    rows = []
    for item in items:
        when = punctuality(item, now)
        marks = marks_of(item)
        officer = item.get("officer_id")
        due = local_time(item.get("due_at"))
        if item.get("due_at") and item.get("due_stage"):
            due = f"{due} ({words(str(item['due_stage']))})"
        cells = {
            "tracking_code": str(item.get("tracking_code") or item["appeal_id"]),
            "summary": str(item.get("summary") or ""),
            "status": words(str(item["status"])) if item.get("status") else "—",
            "category": words(str(item["category"])) if item.get("category") else "—",
            "channel": words(str(item["channel"])) if item.get("channel") else "—",
            "officer": names.get(officer, officer) if officer else "—",
            "due": due,
            "punctuality": words(when.value),
            "marks": " · ".join(words(m) for m in marks) or "—",
        }
        assistants = [str(a) for a in item.get("assistant_officer_ids") or ()]
        rows.append(
            BoardRow(
                appeal_id=str(item["appeal_id"]),
                tracking_code=cells["tracking_code"],
                status=item.get("status"),
                officer_id=officer,
                assistant_ids=assistants,
                assistants=[names.get(a, a) for a in assistants],
                punctuality=when.value,
                marks=marks,
                unreasonable=bool(item.get("unreasonable")),
                cells=cells,
            )
        )
    return rows


def csv_table(rows: Iterable[BoardRow], words: Callable[[str], str]) -> list[list[str]]:
    """The header row and one row per appeal, exactly the table's cells."""
    header = [words(label) for _key, label in COLUMNS]
    return [header, *([row.cells[key] for key, _label in COLUMNS] for row in rows)]


class OfficerLoad(BaseModel):
    officer_id: str
    name: str
    role: str
    open: int
    capacity: int
    percent: int | None  # open / capacity, rounded; None when the capacity is 0
    full: bool
    state: str  # on_duty, off_duty, on_leave (today, Asia/Shanghai)
    leave: list[str]  # "2026-12-01 – 2026-12-05 (note)"


def _leave_text(period: dict[str, Any]) -> str:
    start, end, note = period.get("start"), period.get("end"), period.get("note")
    text = str(start) if start == end else f"{start} – {end}"
    return f"{text} ({note})" if note else text


def officer_loads(officers: Iterable[dict[str, Any]]) -> list[OfficerLoad]:
    """The unit's officers, the most loaded first (then by name): who can take more, who
    is away."""
    loads = []
    for o in officers:
        open_, capacity = int(o.get("open_assignments", 0)), int(o.get("capacity", 0))
        if o.get("on_leave_today"):
            state = "on_leave"
        elif not o.get("on_duty", True):
            state = "off_duty"
        else:
            state = "on_duty"
        loads.append(
            OfficerLoad(
                officer_id=str(o["officer_id"]),
                name=str(o.get("name") or o["officer_id"]),
                role=str(o.get("role") or ""),
                open=open_,
                capacity=capacity,
                percent=round(100 * open_ / capacity) if capacity else None,
                full=open_ >= capacity,
                state=state,
                leave=[_leave_text(p) for p in o.get("leave") or ()],
            )
        )
    return sorted(loads, key=lambda o: (-(o.open / o.capacity if o.capacity else 1), o.name))


def with_names(items: Iterable[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    """Requests awaiting a ruling, each with its officer's name."""
    return [
        {**i, "officer_name": names.get(str(i.get("officer_id")), i.get("officer_id"))}
        for i in items
    ]


def unit_returns(
    returns: Iterable[dict[str, Any]], unit_officers: set[str] | None
) -> list[dict[str, Any]]:
    """Dispatch lists every pending return (the duty dispatcher rules zone-wide): the board
    shows its unit's (`unit_officers`; None: every one, for ops)."""
    return [r for r in returns if unit_officers is None or r.get("officer_id") in unit_officers]


# --- the actions' bodies -------------------------------------------------------------------


def reassign_body(how: str, officer_id: str, note: str) -> dict[str, Any]:
    """Dispatch's body: to the officer typed (as typed: dispatch names what it refuses), or
    without one, routed again by the rules."""
    if how == "route":
        return {"note": note}
    return {"officer_id": officer_id.strip(), "note": note}


def assistants_body(current: Iterable[str], added: str) -> dict[str, Any]:
    """Dispatch replaces the list: the current assistants and the one added (once)."""
    ids = list(dict.fromkeys(current))
    wanted = added.strip()
    if wanted not in ids:
        ids.append(wanted)
    return {"officer_ids": ids}


class Powers(BaseModel):
    """Which of the board's actions the services let the person take (as their routes check the
    roles): the board offers only those. The services still decide each case (another unit's
    appeal, a ruling already made) and the board shows their reason."""

    reassign: bool
    assistants: bool
    unreasonable: bool
    rule_extensions: bool
    rule_returns: bool

    @property
    def on_appeals(self) -> bool:
        return self.reassign or self.assistants or self.unreasonable


def powers_of(roles: frozenset[Role]) -> Powers:
    return Powers(
        reassign=Role.SUPERVISOR in roles,
        assistants=Role.SUPERVISOR in roles,
        unreasonable=bool(roles & {Role.SUPERVISOR, Role.DISPATCHER, Role.OPS}),
        rule_extensions=bool(roles & {Role.SUPERVISOR, Role.DISPATCHER}),
        rule_returns=Role.DISPATCHER in roles,
    )
