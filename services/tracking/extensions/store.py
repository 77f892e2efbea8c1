"""Reading extension requests (延期) across appeals: the rulers' work list. Only the workflow's
repository writes them (appeals/store.py); this module reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, select

from services.tracking import tables


def requests_query(status: str | None, unit: str | None) -> Select[Any]:
    """Extension requests with their appeal's code, summary, lead officer and that officer's
    unit (as tracking last heard it), and the deadline the request is for as it stands now;
    of one status and one unit when given."""
    e, a, o, d = tables.extensions, tables.appeals, tables.officers, tables.deadlines
    query: Select[Any] = select(
        # `id` for the keyset pages' cursor, `extension_id` for the item.
        e.c.id,
        e.c.id.label("extension_id"),
        e.c.appeal_id,
        a.c.tracking_code,
        a.c.summary,
        a.c.status.label("appeal_status"),
        a.c.officer_id,
        o.c.unit,
        e.c.stage,
        e.c.working_days,
        e.c.reason,
        e.c.requested_by,
        e.c.requested_at,
        e.c.status,
        e.c.decided_by,
        e.c.decided_at,
        e.c.note,
        d.c.due_at,
    ).select_from(
        e.join(a, a.c.appeal_id == e.c.appeal_id)
        .outerjoin(o, o.c.officer_id == a.c.officer_id)
        .outerjoin(d, and_(d.c.appeal_id == e.c.appeal_id, d.c.stage == e.c.stage))
    )
    if status is not None:
        query = query.where(e.c.status == status)
    if unit is not None:
        query = query.where(o.c.unit == unit)
    return query
