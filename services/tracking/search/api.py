"""Finding appeals, for supervisors, dispatchers and ops: by status, open or not, unit, officer,
channel, category, punctuality (overdue, due soon), urged (催办), escalated, marked unreasonable,
date of receipt and text, as JSON pages or as one CSV file; and how many match, in each of those
buckets (`GET /v1/appeals/counts`, one query: a unit board's headline). Nothing personal in
either (no name, no phone): the appeal's own view (`GET /v1/appeals/{id}`) has those, and logs
who read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, exists, func, not_, or_, select

from services.tracking import tables
from services.tracking.appeals.api import UnreasonableOut, unreasonable_of
from services.tracking.deadlines.alarms import OFFICER_STAGES
from services.tracking.deadlines.working_days import SHANGHAI, start_of_day
from services.tracking.periods import Day
from shared.csv_export import csv_response, wants_csv
from shared.http import Cursor, Limit, Page, SessionDep
from shared.identity import Principal, Role, forbidden, require_roles
from shared.pagination import paginate
from shared.vocabulary import AppealStatus, Category, Channel

router = APIRouter(prefix="/v1", tags=["appeals"])

# A CSV export holds at most this many rows (the oldest first); the rest is cut and
# `X-Jiban-Truncated: true` says so: narrow the filters to get them.
CSV_MAX_ROWS = 10_000
TRUNCATED_HEADER = "X-Jiban-Truncated"
Q_CHARS = 100
# Due within this many hours, and not overdue yet, is due soon (the console's queue uses the same
# fixed horizon: it reads the same on every row).
DUE_SOON_HOURS = 24

Searcher = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.DISPATCHER, Role.OPS))]


class SearchItem(BaseModel):
    appeal_id: UUID
    tracking_code: str | None
    status: AppealStatus | None
    channel: str | None
    # `type` on the wire, `appeal_type` in the table (as in the appeal's view).
    type: str | None = Field(
        default=None, validation_alias="appeal_type", serialization_alias="type"
    )
    category: str | None
    urgency: str | None
    summary: str | None
    officer_id: str | None
    unit: str | None  # the officer's, as tracking last heard it from the directory
    assistant_officer_ids: list[str]
    received_at: datetime | None
    due_at: datetime | None
    due_stage: str | None
    overdue: bool
    # One of the officer's deadlines of this round fell due unmet and was urged (催办).
    urged: bool
    # Reopened a second time or more: escalated to the officer's supervisor.
    escalated: bool
    closed_reason: str | None
    unreasonable: UnreasonableOut | None


class SearchCounts(BaseModel):
    """How many appeals match the filters, and how many of those are in each bucket."""

    unit: str | None  # whose appeals: the caller's unit, or null for every one (ops)
    total: int
    open: int
    due_soon: int
    overdue: int
    urged: int
    escalated: int
    unreasonable: int


# The JSON item's fields, with the mark flattened into three columns.
CSV_COLUMNS = [
    *(name for name in SearchItem.model_fields if name != "unreasonable"),
    "unreasonable_at",
    "unreasonable_by",
    "unreasonable_reason",
]


def _overdue(now: datetime) -> ColumnElement[bool]:
    """One of the officer's running deadlines is not met and past due: the appeal's `due_at`
    (its nearest such deadline, kept by the workflow) has passed."""
    due_at = tables.appeals.c.due_at
    return and_(due_at.is_not(None), due_at < now)


def _due_soon(now: datetime) -> ColumnElement[bool]:
    """Not overdue yet, but the nearest of the officer's deadlines falls within the horizon."""
    due_at = tables.appeals.c.due_at
    return and_(due_at.is_not(None), due_at >= now, due_at < now + timedelta(hours=DUE_SOON_HOURS))


def _urged() -> ColumnElement[bool]:
    """The scheduler urged (催办) one of the officer's deadlines of this round: it fell due
    unmet (a reassignment starts the deadlines afresh; a later step may have met it since)."""
    d = tables.deadlines
    return exists().where(
        d.c.appeal_id == tables.appeals.c.appeal_id,
        d.c.stage.in_([stage.value for stage in OFFICER_STAGES]),
        d.c.urged_at.is_not(None),
    )


def _open() -> ColumnElement[bool]:
    status = tables.appeals.c.status
    return and_(status.is_not(None), status != AppealStatus.CLOSED.value)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _unit_scope(request: Request, caller: Principal, unit: str | None) -> str | None:
    """The unit the caller may search within; None: every appeal (ops)."""
    if Role.OPS in caller.roles:
        return None
    if caller.unit is None:
        raise forbidden(request, "your sign-in names no unit to search in")
    if unit is not None and unit != caller.unit:
        raise forbidden(request, f"only appeals of your own unit ({caller.unit})")
    return caller.unit


def _invalid(field: str, msg: str) -> HTTPException:
    return HTTPException(422, [{"loc": ["query", field], "msg": msg, "type": "value_error"}])


@dataclass(frozen=True)
class SearchFilters:
    """Every filter of the search, as given (None: not filtered on)."""

    status: AppealStatus | None
    open: bool | None
    unit: str | None
    officer: str | None
    channel: Channel | None
    category: Category | None
    overdue: bool | None
    due_soon: bool | None
    urged: bool | None
    escalated: bool | None
    unreasonable: bool | None
    from_: Day | None
    to: Day | None
    q: str | None


def search_filters(
    status: AppealStatus | None = None,
    open_: Annotated[bool | None, Query(alias="open", description="Not closed")] = None,
    unit: Annotated[str | None, Query(max_length=100, description="The officer's unit")] = None,
    officer: Annotated[str | None, Query(max_length=64, description="Officer id")] = None,
    channel: Channel | None = None,
    category: Category | None = None,
    overdue: Annotated[bool | None, Query(description="Open with a deadline passed")] = None,
    due_soon: Annotated[
        bool | None,
        Query(description=f"Not overdue, the nearest deadline within {DUE_SOON_HOURS} hours"),
    ] = None,
    urged: Annotated[
        bool | None, Query(description="An officer's deadline of this round was urged (催办)")
    ] = None,
    escalated: Annotated[
        bool | None, Query(description="Reopened a second time or more (escalated)")
    ] = None,
    unreasonable: Annotated[
        bool | None, Query(description="Marked unreasonable (不合理诉求)")
    ] = None,
    from_: Annotated[
        Day | None, Query(alias="from", description="Received on or after (Asia/Shanghai)")
    ] = None,
    to: Annotated[Day | None, Query(description="Received on or before (Asia/Shanghai)")] = None,
    q: Annotated[
        str | None, Query(max_length=Q_CHARS, description="In the summary or tracking code")
    ] = None,
) -> SearchFilters:
    if from_ is not None and to is not None and from_ > to:
        raise _invalid("from", f"`from` ({from_}) is after `to` ({to})")
    return SearchFilters(
        status=status,
        open=open_,
        unit=unit,
        officer=officer,
        channel=channel,
        category=category,
        overdue=overdue,
        due_soon=due_soon,
        urged=urged,
        escalated=escalated,
        unreasonable=unreasonable,
        from_=from_,
        to=to,
        q=q,
    )


Filters = Annotated[SearchFilters, Depends(search_filters)]


def _matching(
    query: Select[Any], f: SearchFilters, scope: str | None, now: datetime
) -> Select[Any]:
    """`query` (over appeals joined to their officers) narrowed to what every filter keeps."""
    a, o = tables.appeals, tables.officers
    # A record whose AppealReceived has not arrived yet has no receipt to sort by: it shows up
    # once it has.
    query = query.where(a.c.received_at.is_not(None))
    for column, value in (
        (a.c.status, f.status),
        (a.c.officer_id, f.officer),
        (a.c.channel, f.channel),
        (a.c.category, f.category),
        (o.c.unit, scope),
        (o.c.unit, f.unit),
    ):
        if value is not None:
            query = query.where(column == value)
    for wanted, condition in (
        (f.open, _open()),
        (f.overdue, _overdue(now)),
        (f.due_soon, _due_soon(now)),
        (f.urged, _urged()),
        (f.escalated, a.c.escalated.is_(True)),
        (f.unreasonable, a.c.unreasonable_at.is_not(None)),
    ):
        if wanted is not None:
            query = query.where(condition if wanted else not_(condition))
    if f.from_ is not None:
        query = query.where(a.c.received_at >= start_of_day(f.from_))
    if f.to is not None:
        query = query.where(a.c.received_at < start_of_day(f.to + timedelta(days=1)))
    text = (f.q or "").strip()
    if text:
        pattern = f"%{_escape_like(text)}%"
        query = query.where(
            or_(
                a.c.summary.ilike(pattern, escape="\\"),
                a.c.tracking_code.ilike(pattern, escape="\\"),
            )
        )
    return query


def _joined() -> Any:
    a, o = tables.appeals, tables.officers
    return a.outerjoin(o, o.c.officer_id == a.c.officer_id)


@router.get(
    "/appeals",
    response_model=Page[SearchItem],
    responses={200: {"content": {"text/csv": {}}, "description": "JSON page, or CSV"}},
)
async def search_appeals(
    request: Request,
    session: SessionDep,
    caller: Searcher,
    filters: Filters,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[SearchItem] | Response:
    """Appeals matching every filter given, oldest receipt first. Ops search all; supervisors
    and dispatchers the appeals of their own unit's officers (another `unit` is 403); officers
    use their queue (403 here). `Accept: text/csv` answers every match as a CSV file (at most
    10,000 rows; `X-Jiban-Truncated: true` when cut), ignoring `limit` and `cursor`."""
    scope = _unit_scope(request, caller, filters.unit)
    now = datetime.now(UTC)
    a, o = tables.appeals, tables.officers
    query: Select[Any] = select(
        a.c.appeal_id,
        a.c.tracking_code,
        a.c.status,
        a.c.channel,
        a.c.appeal_type,
        a.c.category,
        a.c.urgency,
        a.c.summary,
        a.c.officer_id,
        o.c.unit,
        a.c.assistant_officer_ids,
        a.c.received_at,
        a.c.due_at,
        a.c.due_stage,
        _overdue(now).label("overdue"),
        _urged().label("urged"),
        a.c.escalated,
        a.c.closed_reason,
        a.c.unreasonable_at,
        a.c.unreasonable_by,
        a.c.unreasonable_reason,
    ).select_from(_joined())
    query = _matching(query, filters, scope, now)
    order = [a.c.received_at, a.c.appeal_id]

    def item(row: Any) -> SearchItem:
        return SearchItem.model_validate({**row._mapping, "unreasonable": unreasonable_of(row)})

    if wants_csv(request):
        rows = (await session.execute(query.order_by(*order).limit(CSV_MAX_ROWS + 1))).all()
        cut = len(rows) > CSV_MAX_ROWS
        response = csv_response(
            (_csv_row(item(r)) for r in rows[:CSV_MAX_ROWS]),
            CSV_COLUMNS,
            f"appeals-{now.astimezone(SHANGHAI):%Y%m%d-%H%M}.csv",
        )
        if cut:
            response.headers[TRUNCATED_HEADER] = "true"
        return response
    return await paginate(session, query, order, limit=limit, cursor=cursor, item=item)


@router.get("/appeals/counts")
async def count_appeals(
    request: Request, session: SessionDep, caller: Searcher, filters: Filters
) -> SearchCounts:
    """How many appeals match every filter given (as the search reads them, for the same
    callers), and how many of those are open, due soon, overdue, urged, escalated and marked
    unreasonable: one pass over the matches, however many."""
    scope = _unit_scope(request, caller, filters.unit)
    now = datetime.now(UTC)
    a = tables.appeals

    def counted(condition: ColumnElement[bool]) -> Any:
        return func.count().filter(condition)

    query: Select[Any] = select(
        func.count().label("total"),
        counted(_open()).label("open"),
        counted(_due_soon(now)).label("due_soon"),
        counted(_overdue(now)).label("overdue"),
        counted(_urged()).label("urged"),
        counted(a.c.escalated.is_(True)).label("escalated"),
        counted(a.c.unreasonable_at.is_not(None)).label("unreasonable"),
    ).select_from(_joined())
    row = (await session.execute(_matching(query, filters, scope, now))).one()
    return SearchCounts.model_validate({**row._mapping, "unit": scope or filters.unit})


def _csv_row(item: SearchItem) -> dict[str, Any]:
    row = item.model_dump(by_alias=True, exclude={"unreasonable"})
    mark = item.unreasonable
    row["unreasonable_at"] = None if mark is None else mark.at
    row["unreasonable_by"] = None if mark is None else mark.by
    row["unreasonable_reason"] = None if mark is None else mark.reason
    return row
