"""The queries behind the rates report and the CSO proposal: they fetch facts and store
decisions; the arithmetic is in rates.py."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking.reports.rates import AppealFacts, Stage
from services.tracking.tables import appeals, cso_proposals, cso_reports, deadlines, officers
from shared.vocabulary import OfficerRole

CSO = OfficerRole.CHIEF_SERVICE_OFFICER.value
STAGES = ("acknowledge", "first_contact", "resolve")


@dataclass(frozen=True)
class Officer:
    officer_id: str
    name: str
    unit: str


@dataclass(frozen=True)
class StoredProposal:
    month: str
    officer_ids: list[str]
    proposed_at: datetime


async def fetch_facts(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    unit: str | None = None,
    officer_ids: Collection[str] | None = None,
) -> list[AppealFacts]:
    """The facts of every appeal received in [start, end), in one query: the officer's unit and
    the three deadlines the rates read are joined in (one aliased join per stage, each on the
    deadlines' primary key). `unit`: only appeals whose officer is in that unit; `officer_ids`:
    only appeals those officers lead."""
    a = appeals
    joined = a.outerjoin(officers, officers.c.officer_id == a.c.officer_id)
    stages = {}
    for stage in STAGES:
        d = deadlines.alias(stage)
        joined = joined.outerjoin(d, and_(d.c.appeal_id == a.c.appeal_id, d.c.stage == stage))
        stages[stage] = d
    query = (
        select(
            a.c.appeal_id,
            a.c.received_at,
            a.c.status,
            a.c.channel,
            a.c.category,
            a.c.community,
            a.c.officer_id,
            officers.c.unit,
            a.c.anonymous,
            a.c.resolved_at,
            a.c.closed_reason,
            a.c.followed_up_at,
            a.c.follow_up_solved,
            a.c.follow_up_satisfaction,
            a.c.unreasonable_at,
            *(
                column.label(f"{stage}_{column.name}")
                for stage, d in stages.items()
                for column in (d.c.due_at, d.c.met_at)
            ),
        )
        .select_from(joined)
        .where(a.c.received_at >= start, a.c.received_at < end)
    )
    if unit is not None:
        query = query.where(officers.c.unit == unit)
    if officer_ids is not None:
        query = query.where(a.c.officer_id.in_(list(officer_ids)))
    return [_facts(row._mapping) for row in await session.execute(query)]


def _stage(row: Any, stage: str) -> Stage | None:
    due = row[f"{stage}_due_at"]
    return None if due is None else Stage(due_at=due, met_at=row[f"{stage}_met_at"])


def _facts(row: Any) -> AppealFacts:
    return AppealFacts(
        appeal_id=str(row["appeal_id"]),
        received_at=row["received_at"],
        status=row["status"],
        channel=row["channel"],
        category=row["category"],
        community=row["community"],
        officer_id=row["officer_id"],
        unit=row["unit"],
        anonymous=bool(row["anonymous"]),
        resolved_at=row["resolved_at"],
        closed_reason=row["closed_reason"],
        followed_up_at=row["followed_up_at"],
        follow_up_solved=row["follow_up_solved"],
        follow_up_satisfaction=row["follow_up_satisfaction"],
        unreasonable=row["unreasonable_at"] is not None,
        acknowledge=_stage(row, "acknowledge"),
        first_contact=_stage(row, "first_contact"),
        resolve=_stage(row, "resolve"),
    )


async def chief_service_officers(session: AsyncSession) -> dict[str, Officer]:
    """The current CSOs (as tracking last heard from the directory), by id."""
    rows = await session.execute(
        select(officers.c.officer_id, officers.c.name, officers.c.unit)
        .where(officers.c.role == CSO)
        .order_by(officers.c.officer_id)
    )
    return {r.officer_id: Officer(r.officer_id, r.name, r.unit) for r in rows}


async def is_cso(session: AsyncSession, officer_id: str) -> bool:
    found = await session.scalar(
        select(officers.c.officer_id).where(
            officers.c.officer_id == officer_id, officers.c.role == CSO
        )
    )
    return found is not None


async def reports_before(session: AsyncSession, month: str) -> list[tuple[str, str]]:
    """(officer_id, month) of every report given before `month` (YYYY-MM sorts as text)."""
    rows = await session.execute(
        select(cso_reports.c.officer_id, cso_reports.c.month).where(cso_reports.c.month < month)
    )
    return [(r.officer_id, r.month) for r in rows]


async def reported_in(session: AsyncSession, month: str) -> set[str]:
    rows = await session.scalars(
        select(cso_reports.c.officer_id).where(cso_reports.c.month == month)
    )
    return set(rows)


async def record_report(
    session: AsyncSession, *, officer_id: str, month: str, recorded_by: str, at: datetime
) -> Any:
    """Records that the CSO reported in `month`; a repeat keeps the first record. Returns it."""
    await session.execute(
        insert(cso_reports)
        .values(officer_id=officer_id, month=month, recorded_by=recorded_by, recorded_at=at)
        .on_conflict_do_nothing(index_elements=["officer_id", "month"])
    )
    return (
        await session.execute(
            select(cso_reports).where(
                cso_reports.c.officer_id == officer_id, cso_reports.c.month == month
            )
        )
    ).one()


async def load_proposal(session: AsyncSession, month: str) -> StoredProposal | None:
    row = (
        await session.execute(select(cso_proposals).where(cso_proposals.c.month == month))
    ).first()
    if row is None:
        return None
    return StoredProposal(row.month, list(row.officer_ids), row.proposed_at)


async def insert_proposal(
    session: AsyncSession, month: str, officer_ids: list[str], at: datetime
) -> bool:
    """Stores the month's proposal unless one is stored already; True iff this call stored it.
    Two replicas racing: the second waits on the primary key, then inserts nothing."""
    stored = await session.scalar(
        insert(cso_proposals)
        .values(month=month, officer_ids=officer_ids, proposed_at=at)
        .on_conflict_do_nothing(index_elements=["month"])
        .returning(cso_proposals.c.month)
    )
    return stored is not None
