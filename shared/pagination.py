"""Keyset pagination for every list endpoint: `{"items": [...], "next_cursor": ...}`.

The cursor is the sort key of the last item handed out, so pages stay stable while rows are
added, and a page costs the same however deep it is."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.http import BadCursor, Page, decode_cursor, encode_cursor

T = TypeVar("T")


def _to_python(column: ColumnElement[Any], value: Any) -> Any:
    kind = column.type.python_type
    try:
        if kind is datetime:
            return datetime.fromisoformat(value)
        if kind is uuid.UUID:
            return uuid.UUID(value)
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise BadCursor("cursor is not one this service handed out") from exc


async def paginate(
    session: AsyncSession,
    query: Select[Any],
    order_by: Sequence[ColumnElement[Any]],
    *,
    limit: int,
    cursor: str | None,
    item: Callable[[Any], T],
) -> Page[T]:
    """`order_by` must end in a unique column, so that the sort key names exactly one row."""
    if cursor is not None:
        values = decode_cursor(cursor)
        if len(values) != len(order_by):
            raise BadCursor("cursor is not one this service handed out")
        after = [
            bindparam(None, _to_python(c, v), type_=c.type)
            for c, v in zip(order_by, values, strict=True)
        ]
        query = query.where(tuple_(*order_by) > tuple_(*after))
    rows = (await session.execute(query.order_by(*order_by).limit(limit + 1))).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor([_jsonable(getattr(last, c.name)) for c in order_by])
    return Page(items=[item(r) for r in page], next_cursor=next_cursor)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)
