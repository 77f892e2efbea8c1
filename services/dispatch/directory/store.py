"""The directory's persistence: idempotent upserts (a row that did not change is not written and
not reported), single-field changes, and the reads the HTTP API and routing make."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Select,
    Table,
    exists,
    func,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.directory.model import Department, DutyPost, Enterprise, Officer
from services.dispatch.tables import departments, duty, enterprises, officers
from shared.vocabulary import Category, IndustryChain, OfficerRole

OFFICER_FIELDS = (
    "name",
    "phone",
    "email",
    "role",
    "unit",
    "on_duty",
    "capacity",
    "categories",
    "communities",
    "supervisor_id",
    "paired_officer_id",
    "leave",
    "department_id",
    "chain",
)
ENTERPRISE_FIELDS = ("name", "chain", "community", "cso_officer_id")
DEPARTMENT_FIELDS = ("name", "categories", "supervisor_id")
LOOKUP_BATCH = 5000


# --- writing -----------------------------------------------------------------------------------


async def _upsert(
    session: AsyncSession, table: Table, key: str, fields: Sequence[str], rows: Sequence[Any]
) -> list[str]:
    """Inserts or updates `rows` (JSON-ready dicts); returns the keys of rows that are new or
    actually changed."""
    if not rows:
        return []
    given = insert(table).values(list(rows))
    changed = tuple_(*(table.c[f] for f in fields)).is_distinct_from(
        tuple_(*(given.excluded[f] for f in fields))
    )
    upsert = given.on_conflict_do_update(
        index_elements=[key],
        set_={**{f: given.excluded[f] for f in fields}, "updated_at": func.now()},
        where=changed,
    ).returning(table.c[key])
    return list((await session.execute(upsert)).scalars())


async def upsert_officers(session: AsyncSession, items: Sequence[Officer]) -> list[str]:
    rows = [o.model_dump(mode="json") for o in items]
    return await _upsert(session, officers, "officer_id", OFFICER_FIELDS, rows)


async def upsert_enterprises(session: AsyncSession, items: Sequence[Enterprise]) -> list[str]:
    rows = [e.model_dump(mode="json") for e in items]
    return await _upsert(session, enterprises, "credit_code", ENTERPRISE_FIELDS, rows)


async def upsert_departments(session: AsyncSession, items: Sequence[Department]) -> list[str]:
    rows = [d.model_dump(mode="json") for d in items]
    return await _upsert(session, departments, "department_id", DEPARTMENT_FIELDS, rows)


async def set_duty(session: AsyncSession, holders: Mapping[DutyPost, str]) -> list[DutyPost]:
    """Gives each post in `holders` to its officer (posts not named are left alone); returns
    the posts whose holder is new or changed."""
    if not holders:
        return []
    given = insert(duty).values(
        [{"post": DutyPost(p).value, "officer_id": o} for p, o in holders.items()]
    )
    upsert = given.on_conflict_do_update(
        index_elements=["post"],
        set_={"officer_id": given.excluded.officer_id, "updated_at": func.now()},
        where=duty.c.officer_id.is_distinct_from(given.excluded.officer_id),
    ).returning(duty.c.post)
    return [DutyPost(post) for post in (await session.execute(upsert)).scalars()]


async def change_officer(
    session: AsyncSession, officer_id: str, values: Mapping[str, Any]
) -> Any | None:
    """Sets `values` (officer columns, JSON-ready) if any of them differs; returns the updated
    row, or None when nothing changed or there is no such officer."""
    return await _change(session, officers, officers.c.officer_id, officer_id, values)


async def change_enterprise(
    session: AsyncSession, credit_code: str, values: Mapping[str, Any]
) -> Any | None:
    """As `change_officer`, for an enterprise."""
    return await _change(session, enterprises, enterprises.c.credit_code, credit_code, values)


async def _change(
    session: AsyncSession,
    table: Table,
    key: Column[str],
    key_value: str,
    values: Mapping[str, Any],
) -> Any | None:
    differs = tuple_(*(table.c[name] for name in values)).is_distinct_from(
        tuple_(*(literal(value, table.c[name].type) for name, value in values.items()))
    )
    stmt = (
        update(table)
        .where(key == key_value, differs)
        .values({**values, "updated_at": func.now()})
        .returning(*table.c)
    )
    return (await session.execute(stmt)).first()


# --- rows as models ----------------------------------------------------------------------------


def officer_from_row(row: Any) -> Officer:
    return Officer.model_validate(row, from_attributes=True)


def enterprise_from_row(row: Any) -> Enterprise:
    return Enterprise.model_validate(row, from_attributes=True)


def department_from_row(row: Any) -> Department:
    return Department.model_validate(row, from_attributes=True)


# --- reading -----------------------------------------------------------------------------------


async def existing_ids(session: AsyncSession, key: Column[str], ids: Collection[str]) -> set[str]:
    """Which of `ids` are in `key`'s table."""
    if not ids:
        return set()
    return set((await session.execute(select(key).where(key.in_(list(ids))))).scalars())


async def all_ids(session: AsyncSession) -> tuple[set[str], set[str]]:
    """The officer ids and the department ids the directory holds (what a roster may name)."""
    officer_ids = set((await session.execute(select(officers.c.officer_id))).scalars())
    department_ids = set((await session.execute(select(departments.c.department_id))).scalars())
    return officer_ids, department_ids


async def rows_by_key(
    session: AsyncSession, table: Table, key: Column[str], keys: Collection[str]
) -> dict[str, Any]:
    """The rows of `table` whose `key` is one of `keys`, by key (in batches: a roster may name
    more rows than one statement takes parameters for)."""
    found: dict[str, Any] = {}
    wanted = list(keys)
    for start in range(0, len(wanted), LOOKUP_BATCH):
        rows = await session.execute(
            select(table).where(key.in_(wanted[start : start + LOOKUP_BATCH]))
        )
        found.update({getattr(row, key.name): row for row in rows})
    return found


def away_on(day: date) -> ColumnElement[bool]:
    """SQL: one of the officer's leave periods covers `day` (the twin of model.on_leave)."""
    period = func.jsonb_array_elements(officers.c.leave).table_valued("value").alias("period")
    start = func.to_date(period.c.value.op("->>")("start"), "YYYY-MM-DD")
    end = func.to_date(period.c.value.op("->>")("end"), "YYYY-MM-DD")
    return exists(select(literal(1)).select_from(period).where(start <= day, end >= day))


async def officer_row(session: AsyncSession, officer_id: str | None) -> Any | None:
    """One officer's row, or None (also for no id: a CSO without an assistant, say)."""
    if officer_id is None:
        return None
    return (
        await session.execute(select(officers).where(officers.c.officer_id == officer_id))
    ).first()


@dataclass(frozen=True)
class OfficerFilter:
    """What `GET /v1/officers` may ask for; None is "any"."""

    role: OfficerRole | None = None
    unit: str | None = None
    on_duty: bool | None = None
    on_leave: bool | None = None  # a leave period covers `today`
    department: str | None = None
    chain: IndustryChain | None = None
    community: str | None = None
    supervisor: str | None = None


def officers_query(wanted: OfficerFilter, today: date) -> Select[Any]:
    t = officers
    query = select(t)
    if wanted.role is not None:
        query = query.where(t.c.role == wanted.role)
    if wanted.unit is not None:
        query = query.where(t.c.unit == wanted.unit)
    if wanted.on_duty is not None:
        query = query.where(t.c.on_duty == wanted.on_duty)
    if wanted.on_leave is not None:
        away = away_on(today)
        query = query.where(away if wanted.on_leave else ~away)
    if wanted.department is not None:
        query = query.where(t.c.department_id == wanted.department)
    if wanted.chain is not None:
        query = query.where(t.c.chain == wanted.chain)
    if wanted.community is not None:
        query = query.where(t.c.communities.contains([wanted.community]))
    if wanted.supervisor is not None:
        query = query.where(t.c.supervisor_id == wanted.supervisor)
    return query


async def enterprise_row(session: AsyncSession, credit_code: str) -> Any | None:
    code = credit_code.strip().upper()
    t = enterprises
    return (await session.execute(select(t).where(t.c.credit_code == code))).first()


def enterprises_query(
    *, chain: IndustryChain | None, community: str | None, cso: str | None
) -> Select[Any]:
    t = enterprises
    query = select(t)
    if chain is not None:
        query = query.where(t.c.chain == chain)
    if community is not None:
        query = query.where(t.c.community == community)
    if cso is not None:
        query = query.where(t.c.cso_officer_id == cso)
    return query


def departments_query(category: Category | None) -> Select[Any]:
    query = select(departments)
    if category is not None:
        query = query.where(departments.c.categories.contains([category.value]))
    return query


async def department_row(session: AsyncSession, department_id: str) -> Any | None:
    t = departments
    return (await session.execute(select(t).where(t.c.department_id == department_id))).first()


async def department_members(session: AsyncSession, ids: list[str]) -> dict[str, list[str]]:
    """The officers of each department, by id."""
    t = officers
    rows = await session.execute(
        select(t.c.department_id, t.c.officer_id)
        .where(t.c.department_id.in_(ids))
        .order_by(t.c.officer_id)
    )
    members: dict[str, list[str]] = {}
    for department_id, officer_id in rows:
        members.setdefault(department_id, []).append(officer_id)
    return members


@dataclass(frozen=True)
class Community:
    name: str
    worker_ids: list[str]
    enterprises: int


async def communities(session: AsyncSession) -> list[Community]:
    """Every community a community worker covers or an enterprise is registered in, by name."""
    o, e = officers, enterprises
    workers = await session.execute(
        select(o.c.officer_id, o.c.communities)
        .where(o.c.role == OfficerRole.COMMUNITY_WORKER.value)
        .order_by(o.c.officer_id)
    )
    worker_ids: dict[str, list[str]] = {}
    for officer_id, covered in workers:
        for community in covered or []:
            worker_ids.setdefault(community, []).append(officer_id)
    counted = await session.execute(select(e.c.community, func.count()).group_by(e.c.community))
    registered = {community: count for community, count in counted}
    return [
        Community(name, worker_ids.get(name, []), registered.get(name, 0))
        for name in sorted(set(worker_ids) | set(registered))
    ]


async def duty_holders(session: AsyncSession) -> dict[DutyPost, tuple[str, str | None]]:
    """Each held post: (officer id, the officer's name, None if not in the directory)."""
    rows = await session.execute(
        select(duty.c.post, duty.c.officer_id, officers.c.name).outerjoin(
            officers, officers.c.officer_id == duty.c.officer_id
        )
    )
    return {DutyPost(post): (officer_id, name) for post, officer_id, name in rows}
