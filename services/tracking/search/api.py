"""Finding appeals, for supervisors, dispatchers and ops: by status, unit, officer, channel,
category, overdue, date of receipt and text, as JSON pages or as one CSV file. Nothing personal
in either (no name, no phone): the appeal's own view (`GET /v1/appeals/{id}`) has those, and logs
who read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, not_, or_, select

from services.tracking import tables
from services.tracking.appeals.api import UnreasonableOut, unreasonable_of
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
    officer_id: str | None
    unit: str | None  # the officer's, as tracking last heard it from the directory
    received_at: datetime | None
    due_at: datetime | None
    due_stage: str | None
    overdue: bool
    closed_reason: str | None
    unreasonable: UnreasonableOut | None


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


@router.get(
    "/appeals",
    response_model=Page[SearchItem],
    responses={200: {"content": {"text/csv": {}}, "description": "JSON page, or CSV"}},
)
async def search_appeals(
    request: Request,
    session: SessionDep,
    caller: Searcher,
    status: AppealStatus | None = None,
    unit: Annotated[str | None, Query(max_length=100, description="The officer's unit")] = None,
    officer: Annotated[str | None, Query(max_length=64, description="Officer id")] = None,
    channel: Channel | None = None,
    category: Category | None = None,
    overdue: Annotated[bool | None, Query(description="Open with a deadline passed")] = None,
    from_: Annotated[
        Day | None, Query(alias="from", description="Received on or after (Asia/Shanghai)")
    ] = None,
    to: Annotated[Day | None, Query(description="Received on or before (Asia/Shanghai)")] = None,
    q: Annotated[
        str | None, Query(max_length=Q_CHARS, description="In the summary or tracking code")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[SearchItem] | Response:
    """Appeals matching every filter given, oldest receipt first. Ops search all; supervisors
    and dispatchers the appeals of their own unit's officers (another `unit` is 403); officers
    use their queue (403 here). `Accept: text/csv` answers every match as a CSV file (at most
    10,000 rows; `X-Jiban-Truncated: true` when cut), ignoring `limit` and `cursor`."""
    if from_ is not None and to is not None and from_ > to:
        raise _invalid("from", f"`from` ({from_}) is after `to` ({to})")
    scope = _unit_scope(request, caller, unit)
    now = datetime.now(UTC)
    a, o = tables.appeals, tables.officers
    overdue_now = _overdue(now)
    query: Select[Any] = (
        select(
            a.c.appeal_id,
            a.c.tracking_code,
            a.c.status,
            a.c.channel,
            a.c.appeal_type,
            a.c.category,
            a.c.urgency,
            a.c.officer_id,
            o.c.unit,
            a.c.received_at,
            a.c.due_at,
            a.c.due_stage,
            overdue_now.label("overdue"),
            a.c.closed_reason,
            a.c.unreasonable_at,
            a.c.unreasonable_by,
            a.c.unreasonable_reason,
        )
        .select_from(a.outerjoin(o, o.c.officer_id == a.c.officer_id))
        # A record whose AppealReceived has not arrived yet has no receipt to sort by: it shows
        # up once it has.
        .where(a.c.received_at.is_not(None))
    )
    for column, value in (
        (a.c.status, status),
        (a.c.officer_id, officer),
        (a.c.channel, channel),
        (a.c.category, category),
        (o.c.unit, scope),
        (o.c.unit, unit),
    ):
        if value is not None:
            query = query.where(column == value)
    if overdue is not None:
        query = query.where(overdue_now if overdue else not_(overdue_now))
    if from_ is not None:
        query = query.where(a.c.received_at >= start_of_day(from_))
    if to is not None:
        query = query.where(a.c.received_at < start_of_day(to + timedelta(days=1)))
    text = (q or "").strip()
    if text:
        pattern = f"%{_escape_like(text)}%"
        query = query.where(
            or_(
                a.c.summary.ilike(pattern, escape="\\"),
                a.c.tracking_code.ilike(pattern, escape="\\"),
            )
        )
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


def _csv_row(item: SearchItem) -> dict[str, Any]:
    row = item.model_dump(by_alias=True, exclude={"unreasonable"})
    mark = item.unreasonable
    row["unreasonable_at"] = None if mark is None else mark.at
    row["unreasonable_by"] = None if mark is None else mark.by
    row["unreasonable_reason"] = None if mark is None else mark.reason
    return row
