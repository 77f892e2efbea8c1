"""Dispatch's tables (schema `dispatch`): the directory and the assignments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    String,
    Table,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.directory import Enterprise, Officer
from services.dispatch.routing import GENERAL_HANDLERS, Candidate
from shared.db import service_metadata
from shared.inbox import inbox_table
from shared.outbox import outbox_table
from shared.vocabulary import OfficerRole

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


def _candidate(row: Any) -> Candidate:
    return Candidate(
        officer_id=row.officer_id,
        name=row.name,
        role=OfficerRole(row.role),
        on_duty=row.on_duty,
        capacity=row.capacity,
        open_assignments=row.open_assignments,
    )


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


async def enterprise_and_cso(
    session: AsyncSession, credit_code: str
) -> tuple[Any | None, Candidate | None]:
    enterprise = (
        await session.execute(select(enterprises).where(enterprises.c.credit_code == credit_code))
    ).first()
    if enterprise is None or enterprise.cso_officer_id is None:
        return enterprise, None
    cso = (
        await session.execute(
            select(officers).where(officers.c.officer_id == enterprise.cso_officer_id)
        )
    ).first()
    return enterprise, None if cso is None else _candidate(cso)


# The rules pick the least loaded of a group, so the few least loaded of each are enough.
CANDIDATES_PER_GROUP = 20


async def officers_on_duty(session: AsyncSession) -> list[Candidate]:
    """What the rules may pick from: the least loaded general handlers (community workers,
    department officers) under capacity, and the least loaded of everyone on duty but
    supervisors (the last-resort rule ignores capacity). Each rule takes the minimum of its
    group, which these hold; loading every officer for every appeal cost more than routing."""
    general = [r.value for r in GENERAL_HANDLERS]
    on_duty = select(officers).where(officers.c.on_duty)
    by_load = (officers.c.open_assignments, officers.c.officer_id)
    handlers = (
        await session.execute(
            on_duty.where(
                officers.c.role.in_(general),
                officers.c.open_assignments < officers.c.capacity,
            )
            .order_by(*by_load)
            .limit(CANDIDATES_PER_GROUP)
        )
    ).all()
    others = (
        await session.execute(
            on_duty.where(officers.c.role != OfficerRole.SUPERVISOR.value)
            .order_by(*by_load)
            .limit(CANDIDATES_PER_GROUP)
        )
    ).all()
    unique = {r.officer_id: r for r in (*handlers, *others)}
    return [_candidate(r) for r in unique.values()]


async def assignment_of(session: AsyncSession, appeal_id: UUID) -> Any | None:
    return (
        await session.execute(select(assignments).where(assignments.c.appeal_id == appeal_id))
    ).first()


async def record_assignment(
    session: AsyncSession,
    *,
    appeal_id: UUID,
    officer_id: str,
    reason_code: str,
    reason: str,
    assigned_at: datetime,
) -> bool:
    """False if the appeal was already assigned (then nothing changes)."""
    created = (
        await session.execute(
            insert(assignments)
            .values(
                appeal_id=appeal_id,
                officer_id=officer_id,
                reason_code=reason_code,
                reason=reason,
                assigned_at=assigned_at,
            )
            .on_conflict_do_nothing(index_elements=["appeal_id"])
            .returning(assignments.c.appeal_id)
        )
    ).first()
    if created is None:
        return False
    await session.execute(
        update(officers)
        .where(officers.c.officer_id == officer_id)
        .values(open_assignments=officers.c.open_assignments + 1)
    )
    return True
