"""Dispatch's tables (schema `dispatch`): the directory and the assignments."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    Integer,
    String,
    Table,
    exists,
    func,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.directory import Department, DutyPost, Enterprise, Officer
from shared.db import service_metadata
from shared.inbox import inbox_table
from shared.outbox import outbox_table

SCHEMA = "dispatch"
metadata = service_metadata(SCHEMA)

officers = Table(
    "officers",
    metadata,
    Column("officer_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("email", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("unit", String(100), nullable=False),
    Column("on_duty", Boolean, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("categories", JSONB, nullable=False),
    Column("communities", JSONB, nullable=False),
    Column("supervisor_id", String(64)),
    Column("paired_officer_id", String(64)),
    # Kept in step with `assignments` in the same transaction: routing reads it on every appeal.
    Column("open_assignments", Integer, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("leave", JSONB, nullable=False, server_default="[]"),
    Column("department_id", String(64), index=True),
    Column("chain", String(40), index=True),
    # Returns (退单) this officer asked for that were accepted, and that were rejected.
    Column("returns_accepted", Integer, nullable=False, server_default="0"),
    Column("returns_rejected", Integer, nullable=False, server_default="0"),
)

departments = Table(
    "departments",
    metadata,
    Column("department_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("categories", JSONB, nullable=False),
    Column("supervisor_id", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Who holds each duty post (`dispatcher`, `supervisor`): one row per post.
duty = Table(
    "duty",
    metadata,
    Column("post", String(20), primary_key=True),
    Column("officer_id", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("chain", String(40), nullable=False),
    Column("community", String(100), nullable=False),
    Column("cso_officer_id", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

assignments = Table(
    "assignments",
    metadata,
    Column("appeal_id", PgUUID(as_uuid=True), primary_key=True),
    Column("officer_id", String(64), nullable=False, index=True),
    Column("reason_code", String(64), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("open", Boolean, nullable=False, server_default="true"),
    # What routing looked at (enterprise, category, community…), kept to route it again.
    Column("routing_input", JSONB, nullable=False, server_default="{}"),
    # The rules trace of the last decision: [{"rule", "matched", "why"}, …].
    Column("rules", JSONB, nullable=False, server_default="[]"),
    # Officers who gave it back or were moved off it: routing again never picks them.
    Column("excluded_officer_ids", JSONB, nullable=False, server_default="[]"),
    Column("accepted_returns", Integer, nullable=False, server_default="0"),
    Column("assistant_officer_ids", JSONB, nullable=False, server_default="[]"),
    Column("tracking_code", String(32)),
    Column("updated_at", DateTime(timezone=True)),
)

returns = Table(
    "returns",
    metadata,
    Column("return_id", PgUUID(as_uuid=True), primary_key=True),
    Column("appeal_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("officer_id", String(64), nullable=False),
    Column("reason_code", String(64), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),  # pending | accepted | rejected
    Column("decided_by", String(64)),
    Column("decided_at", DateTime(timezone=True)),
    Column("note", String(500), nullable=False, server_default=""),
    Column("automatic", Boolean, nullable=False, server_default="false"),
)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

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


async def upsert_officers(session: AsyncSession, items: Sequence[Officer]) -> list[str]:
    """Inserts or updates; returns the ids of rows that are new or actually changed."""
    if not items:
        return []
    stmt = insert(officers).values([o.model_dump(mode="json") for o in items])
    changed = tuple_(*(officers.c[f] for f in OFFICER_FIELDS)).is_distinct_from(
        tuple_(*(stmt.excluded[f] for f in OFFICER_FIELDS))
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["officer_id"],
        set_={**{f: stmt.excluded[f] for f in OFFICER_FIELDS}, "updated_at": func.now()},
        where=changed,
    ).returning(officers.c.officer_id)
    return list((await session.execute(stmt)).scalars())


async def upsert_enterprises(session: AsyncSession, items: Sequence[Enterprise]) -> list[str]:
    if not items:
        return []
    stmt = insert(enterprises).values([e.model_dump(mode="json") for e in items])
    changed = tuple_(*(enterprises.c[f] for f in ENTERPRISE_FIELDS)).is_distinct_from(
        tuple_(*(stmt.excluded[f] for f in ENTERPRISE_FIELDS))
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["credit_code"],
        set_={**{f: stmt.excluded[f] for f in ENTERPRISE_FIELDS}, "updated_at": func.now()},
        where=changed,
    ).returning(enterprises.c.credit_code)
    return list((await session.execute(stmt)).scalars())


async def upsert_departments(session: AsyncSession, items: Sequence[Department]) -> list[str]:
    """Inserts or updates; returns the ids of departments that are new or actually changed."""
    if not items:
        return []
    stmt = insert(departments).values([d.model_dump(mode="json") for d in items])
    changed = tuple_(*(departments.c[f] for f in DEPARTMENT_FIELDS)).is_distinct_from(
        tuple_(*(stmt.excluded[f] for f in DEPARTMENT_FIELDS))
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["department_id"],
        set_={**{f: stmt.excluded[f] for f in DEPARTMENT_FIELDS}, "updated_at": func.now()},
        where=changed,
    ).returning(departments.c.department_id)
    return list((await session.execute(stmt)).scalars())


async def set_duty(session: AsyncSession, holders: Mapping[DutyPost, str]) -> list[DutyPost]:
    """Gives each post in `holders` to its officer (posts not named are left alone); returns
    the posts whose holder is new or changed."""
    if not holders:
        return []
    stmt = insert(duty).values(
        [{"post": DutyPost(p).value, "officer_id": o} for p, o in holders.items()]
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["post"],
        set_={"officer_id": stmt.excluded.officer_id, "updated_at": func.now()},
        where=duty.c.officer_id.is_distinct_from(stmt.excluded.officer_id),
    ).returning(duty.c.post)
    return [DutyPost(post) for post in (await session.execute(stmt)).scalars()]


async def existing_ids(session: AsyncSession, key: Column[str], ids: Collection[str]) -> set[str]:
    """Which of `ids` are in `key`'s table."""
    if not ids:
        return set()
    return set((await session.execute(select(key).where(key.in_(list(ids))))).scalars())


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


def officer_from_row(row: Any) -> Officer:
    return Officer.model_validate(row, from_attributes=True)


def enterprise_from_row(row: Any) -> Enterprise:
    return Enterprise.model_validate(row, from_attributes=True)


def department_from_row(row: Any) -> Department:
    return Department.model_validate(row, from_attributes=True)


def away_on(day: date) -> ColumnElement[bool]:
    """SQL: one of the officer's leave periods covers `day` (the twin of directory.on_leave)."""
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
