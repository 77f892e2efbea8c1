"""The five ones' SQL: the CSOs' contacts with their enterprises (visits, contacts recorded on
appeals), the month's figures per CSO, and the reminders sent. The enterprises and their CSOs are
tracking's copy of the directory (directory/store.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, literal, select, union
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking.five_ones.rules import CsoFacts, EnterpriseRef
from services.tracking.periods import Month
from services.tracking.tables import (
    appeals,
    cso_contacts,
    enterprises,
    five_ones_reminders,
    officers,
)
from shared.vocabulary import OfficerRole

VISIT = "visit"
APPEAL = "appeal"


@dataclass(frozen=True)
class Cso:
    """A CSO as tracking knows them; name and unit are None until the directory's
    OfficerChanged arrives (an enterprise may name its CSO first)."""

    officer_id: str
    name: str | None
    unit: str | None


async def record_visit(
    session: AsyncSession,
    *,
    visit_id: str,
    officer_id: str,
    credit_code: str,
    visited_at: datetime,
) -> None:
    await session.execute(
        insert(cso_contacts)
        .values(
            ref=f"visit:{visit_id}",
            officer_id=officer_id,
            credit_code=credit_code,
            contacted_at=visited_at,
            source=VISIT,
        )
        .on_conflict_do_nothing(index_elements=["ref"])
    )


async def record_appeal_contact(
    session: AsyncSession, *, ref: str, officer_id: str, credit_code: str, contacted_at: datetime
) -> None:
    """Counts an officer's contact on an appeal from an enterprise as a five-ones contact, only
    when the officer is that enterprise's CSO (another officer handling its appeal is not its
    CSO keeping in touch). `ref` makes a repeat count once."""
    chosen = select(
        literal(ref, cso_contacts.c.ref.type),
        literal(officer_id, cso_contacts.c.officer_id.type),
        enterprises.c.credit_code,
        literal(contacted_at, cso_contacts.c.contacted_at.type),
        literal(APPEAL, cso_contacts.c.source.type),
    ).where(enterprises.c.credit_code == credit_code, enterprises.c.cso_officer_id == officer_id)
    await session.execute(
        insert(cso_contacts)
        .from_select(["ref", "officer_id", "credit_code", "contacted_at", "source"], chosen)
        .on_conflict_do_nothing(index_elements=["ref"])
    )


async def csos(
    session: AsyncSession, *, officer_id: str | None = None, unreminded_in: Month | None = None
) -> list[Cso]:
    """Officers the directory calls CSOs, and anyone an enterprise names as its CSO (even before
    tracking heard of them), by id. `unreminded_in`: only those with no reminder that month."""
    ids = union(
        select(officers.c.officer_id).where(
            officers.c.role == OfficerRole.CHIEF_SERVICE_OFFICER.value
        ),
        select(enterprises.c.cso_officer_id.label("officer_id")).where(
            enterprises.c.cso_officer_id.is_not(None)
        ),
    ).subquery("ids")
    query = (
        select(ids.c.officer_id, officers.c.name, officers.c.unit)
        .select_from(ids.outerjoin(officers, officers.c.officer_id == ids.c.officer_id))
        .order_by(ids.c.officer_id)
    )
    if officer_id is not None:
        query = query.where(ids.c.officer_id == officer_id)
    if unreminded_in is not None:
        reminded = exists().where(
            five_ones_reminders.c.officer_id == ids.c.officer_id,
            five_ones_reminders.c.month == str(unreminded_in),
        )
        query = query.where(~reminded)
    return [Cso(r.officer_id, r.name, r.unit) for r in (await session.execute(query)).all()]


async def month_facts(session: AsyncSession, people: Sequence[Cso], month: Month) -> list[CsoFacts]:
    """Each CSO's enterprises, contacts and visits in the month, and appeals they lead resolved
    in it. Three queries whatever the number of CSOs."""
    ids = [c.officer_id for c in people]
    if not ids:
        return []
    owned: dict[str, list[EnterpriseRef]] = defaultdict(list)
    enterprise_rows = await session.execute(
        select(enterprises.c.cso_officer_id, enterprises.c.credit_code, enterprises.c.name).where(
            enterprises.c.cso_officer_id.in_(ids)
        )
    )
    for r in enterprise_rows:
        owned[r.cso_officer_id].append(EnterpriseRef(r.credit_code, r.name))

    contacted: dict[str, set[str]] = defaultdict(set)
    visits: dict[str, int] = defaultdict(int)
    c = cso_contacts.c
    in_month = and_(c.contacted_at >= month.start, c.contacted_at < month.end)
    contact_rows = await session.execute(
        select(c.officer_id, c.credit_code, c.source, func.count().label("n"))
        .where(c.officer_id.in_(ids), in_month)
        .group_by(c.officer_id, c.credit_code, c.source)
    )
    for r in contact_rows:
        contacted[r.officer_id].add(r.credit_code)
        if r.source == VISIT:
            visits[r.officer_id] += int(r.n)

    a = appeals.c
    solved_rows = await session.execute(
        select(a.officer_id, func.count().label("n"))
        .where(a.officer_id.in_(ids), a.resolved_at >= month.start, a.resolved_at < month.end)
        .group_by(a.officer_id)
    )
    solved = {r.officer_id: int(r.n) for r in solved_rows}
    return [
        CsoFacts(
            officer_id=p.officer_id,
            name=p.name,
            unit=p.unit,
            enterprises=tuple(owned[p.officer_id]),
            contacted_codes=frozenset(contacted[p.officer_id]),
            visits=visits[p.officer_id],
            problems_solved=solved.get(p.officer_id, 0),
        )
        for p in people
    ]


async def claim_reminder(
    session: AsyncSession, *, officer_id: str, month: Month, sent_at: datetime
) -> bool:
    """True if this transaction is the one sending the CSO's reminder for the month. A replica
    racing for the same row waits for the first to commit, then finds it: each goes once."""
    claimed = await session.scalar(
        insert(five_ones_reminders)
        .values(officer_id=officer_id, month=str(month), sent_at=sent_at)
        .on_conflict_do_nothing(index_elements=["officer_id", "month"])
        .returning(five_ones_reminders.c.officer_id)
    )
    return claimed is not None
