"""Dispatch's persistence for routing and ownership: what the rules may look at, the capacity
claim, assignments, returns and assistants (`PostgresAssignments`, the ownership decisions'
repository), and the reads the HTTP API makes. Capacity is decided here, in the database: a claim
is one conditional UPDATE, so two replicas racing for the same officer cannot push them past it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import ColumnElement, Float, Select, cast, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.assignments.model import (
    Assignment,
    PendingReturn,
    ReturnStatus,
    RoutingInput,
)
from services.dispatch.assignments.routing import (
    Candidate,
    EnterpriseInfo,
    Routing,
    RoutingContext,
)
from services.dispatch.directory.model import DutyPost, LeavePeriod, on_leave
from services.dispatch.directory.store import away_on, duty_officer_id, officer_row
from services.dispatch.tables import assignments, departments, enterprises, officers, returns
from shared.vocabulary import IndustryChain, OfficerRole

# The rules take the least loaded of each group, so a few of the least loaded are enough.
CANDIDATES_PER_GROUP = 20


def _leave(row: Any) -> list[LeavePeriod]:
    return [LeavePeriod.model_validate(p) for p in row.leave or []]


def _candidate(row: Any, today: date) -> Candidate:
    return Candidate(
        officer_id=row.officer_id,
        name=row.name,
        role=OfficerRole(row.role),
        on_duty=row.on_duty,
        capacity=row.capacity,
        open_assignments=row.open_assignments,
        on_leave=on_leave(_leave(row), today),
    )


def _available(today: date, excluded: Iterable[str]) -> list[ColumnElement[bool]]:
    """On duty, under capacity, not on leave today, not excluded: the SQL twin of
    Candidate.available, so groups load only officers the rules could pick."""
    conditions: list[ColumnElement[bool]] = [
        officers.c.on_duty,
        officers.c.open_assignments < officers.c.capacity,
        ~away_on(today),
    ]
    excluded = list(excluded)
    if excluded:
        conditions.append(officers.c.officer_id.not_in(excluded))
    return conditions


_BY_LOAD = (
    cast(officers.c.open_assignments, Float) / func.nullif(officers.c.capacity, 0),
    officers.c.open_assignments,
    officers.c.officer_id,
)


async def _group(
    session: AsyncSession, today: date, excluded: Iterable[str], *where: ColumnElement[bool]
) -> list[Candidate]:
    rows = (
        await session.execute(
            select(officers)
            .where(*where, *_available(today, excluded))
            .order_by(*_BY_LOAD)
            .limit(CANDIDATES_PER_GROUP)
        )
    ).all()
    return [_candidate(r, today) for r in rows]


async def _duty_supervisor(session: AsyncSession, today: date) -> Candidate | None:
    """The holder of the duty supervisor post; without one, the first supervisor on duty by id,
    so an appeal that no rule fits still gets a person."""
    row = await officer_row(session, await duty_officer_id(session, DutyPost.SUPERVISOR))
    if row is None:
        row = (
            await session.execute(
                select(officers)
                .where(officers.c.role == OfficerRole.SUPERVISOR.value, officers.c.on_duty)
                .order_by(officers.c.officer_id)
                .limit(1)
            )
        ).first()
    return None if row is None else _candidate(row, today)


async def _enterprise(session: AsyncSession, inputs: RoutingInput) -> Any | None:
    if inputs.credit_code is not None:
        where = enterprises.c.credit_code == inputs.credit_code.strip().upper()
    elif inputs.enterprise_name:
        where = enterprises.c.name == inputs.enterprise_name.strip()
    else:
        return None
    rows = (await session.execute(select(enterprises).where(where).limit(2))).all()
    # An exact name shared by two enterprises identifies neither.
    return rows[0] if len(rows) == 1 else None


async def _cso_contact(session: AsyncSession, inputs: RoutingInput) -> tuple[str, str] | None:
    """(credit code, the CSO's party-building assistant) for an enterprise's appeal whose CSO
    has one: notify copies the assistant in, and cannot wait for its own directory copy."""
    enterprise = await _enterprise(session, inputs)
    if enterprise is None or enterprise.cso_officer_id is None:
        return None
    cso = await officer_row(session, enterprise.cso_officer_id)
    if cso is None or cso.paired_officer_id is None:
        return None
    return enterprise.credit_code, cso.paired_officer_id


def _assignment(row: Any) -> Assignment:
    return Assignment(
        appeal_id=row.appeal_id,
        officer_id=row.officer_id,
        open=row.open,
        routing_input=RoutingInput.model_validate(row.routing_input),
        excluded_officer_ids=tuple(row.excluded_officer_ids),
        accepted_returns=row.accepted_returns,
        assistant_officer_ids=tuple(row.assistant_officer_ids),
        tracking_code=row.tracking_code,
    )


def _pending(row: Any) -> PendingReturn:
    return PendingReturn(
        return_id=row.return_id,
        appeal_id=row.appeal_id,
        officer_id=row.officer_id,
        reason_code=row.reason_code,
    )


class PostgresAssignments:
    """The ownership decisions' repository over dispatch's tables, in one session (the unit of
    work's)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def routing_context(
        self,
        appeal_id: UUID,
        inputs: RoutingInput,
        *,
        today: date,
        excluded: Sequence[str] = (),
        supervisor_only: bool = False,
    ) -> RoutingContext:
        """What the rules need, loaded in rule order and no further: once a rule is sure to find
        someone (an available CSO, a team or department with an available member…), the groups of
        the rules after it are not queried (the trace lists those rules as not tried)."""
        session = self.session
        ctx = RoutingContext(
            appeal_id=str(appeal_id),
            category=inputs.category,
            resident=inputs.resident,
            community=inputs.community,
            excluded=frozenset(excluded),
        )
        if supervisor_only:
            return replace(ctx, duty_supervisor=await _duty_supervisor(session, today))

        def settled(candidate: Candidate | None) -> bool:
            return (
                candidate is not None
                and candidate.available
                and candidate.officer_id not in excluded
            )

        enterprise = await _enterprise(session, inputs)
        if enterprise is not None:
            info = EnterpriseInfo(
                credit_code=enterprise.credit_code,
                name=enterprise.name,
                chain=IndustryChain(enterprise.chain),
                community=enterprise.community,
                has_cso=enterprise.cso_officer_id is not None,
            )
            ctx = replace(ctx, enterprise=info)
            cso_row = await officer_row(session, enterprise.cso_officer_id)
            if cso_row is not None:
                assistant_row = await officer_row(session, cso_row.paired_officer_id)
                ctx = replace(
                    ctx,
                    cso=_candidate(cso_row, today),
                    cso_assistant=None
                    if assistant_row is None
                    else _candidate(assistant_row, today),
                )
                if settled(ctx.cso) or settled(ctx.cso_assistant):
                    return ctx
            if info.chain is not IndustryChain.OTHER:
                team = await _group(session, today, excluded, officers.c.chain == info.chain.value)
                ctx = replace(ctx, chain_team=team)
                if team:
                    return ctx
        if inputs.category is not None:
            owning = (
                await session.execute(
                    select(departments.c.department_id, departments.c.name)
                    .where(departments.c.categories.contains([inputs.category.value]))
                    .order_by(departments.c.department_id)
                )
            ).all()
            if owning:
                members = await _group(
                    session,
                    today,
                    excluded,
                    officers.c.department_id.in_([row.department_id for row in owning]),
                )
                ctx = replace(
                    ctx, departments=[row.name for row in owning], department_officers=members
                )
                if members:
                    return ctx
        if inputs.resident and inputs.community:
            workers = await _group(
                session,
                today,
                excluded,
                officers.c.role == OfficerRole.COMMUNITY_WORKER.value,
                officers.c.communities.contains([inputs.community]),
            )
            ctx = replace(ctx, community_workers=workers)
            if workers:
                return ctx
        return replace(ctx, duty_supervisor=await _duty_supervisor(session, today))

    async def claim(self, officer_id: str, *, ignore_capacity: bool) -> bool:
        """The row lock this UPDATE takes makes a concurrent claim wait and then see the new
        count."""
        stmt = update(officers).where(officers.c.officer_id == officer_id)
        if not ignore_capacity:
            stmt = stmt.where(officers.c.open_assignments < officers.c.capacity)
        claimed = (
            await self.session.execute(
                stmt.values(open_assignments=officers.c.open_assignments + 1).returning(
                    officers.c.officer_id
                )
            )
        ).first()
        return claimed is not None

    async def release(self, officer_id: str) -> None:
        await self.session.execute(
            update(officers)
            .where(officers.c.officer_id == officer_id, officers.c.open_assignments > 0)
            .values(open_assignments=officers.c.open_assignments - 1)
        )

    async def assignment_of(
        self, appeal_id: UUID, *, for_update: bool = False
    ) -> Assignment | None:
        query = select(assignments).where(assignments.c.appeal_id == appeal_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).first()
        return None if row is None else _assignment(row)

    async def record_assignment(
        self, appeal_id: UUID, routing: Routing, inputs: RoutingInput, *, assigned_at: datetime
    ) -> None:
        """Nothing changes if the appeal was already assigned. The caller has claimed the
        officer's capacity."""
        await self.session.execute(
            insert(assignments)
            .values(
                appeal_id=appeal_id,
                officer_id=routing.decision.officer_id,
                reason_code=routing.decision.reason_code,
                reason=routing.decision.reason,
                assigned_at=assigned_at,
                routing_input=inputs.model_dump(mode="json"),
                rules=routing.trace(),
                tracking_code=inputs.tracking_code,
                updated_at=assigned_at,
            )
            .on_conflict_do_nothing(index_elements=["appeal_id"])
        )

    async def move_assignment(
        self,
        appeal_id: UUID,
        routing: Routing,
        *,
        excluded: Sequence[str],
        accepted_returns: int,
        moved_at: datetime,
    ) -> None:
        await self.session.execute(
            update(assignments)
            .where(assignments.c.appeal_id == appeal_id)
            .values(
                officer_id=routing.decision.officer_id,
                reason_code=routing.decision.reason_code,
                reason=routing.decision.reason,
                rules=routing.trace(),
                excluded_officer_ids=list(excluded),
                accepted_returns=accepted_returns,
                assigned_at=moved_at,
                updated_at=moved_at,
            )
        )

    async def close_assignment(self, appeal_id: UUID) -> None:
        await self.session.execute(
            update(assignments)
            .where(assignments.c.appeal_id == appeal_id)
            .values(open=False, updated_at=func.now())
        )

    async def set_assistants(
        self, appeal_id: UUID, officer_ids: Sequence[str], *, changed_at: datetime
    ) -> None:
        await self.session.execute(
            update(assignments)
            .where(assignments.c.appeal_id == appeal_id)
            .values(assistant_officer_ids=list(officer_ids), updated_at=changed_at)
        )

    async def officer_name(self, officer_id: str) -> str | None:
        row = await officer_row(self.session, officer_id)
        return None if row is None else str(row.name)

    async def existing_officers(self, officer_ids: Sequence[str]) -> set[str]:
        if not officer_ids:
            return set()
        rows = await self.session.execute(
            select(officers.c.officer_id).where(officers.c.officer_id.in_(list(officer_ids)))
        )
        return set(rows.scalars())

    async def cso_contact(self, inputs: RoutingInput) -> tuple[str, str] | None:
        return await _cso_contact(self.session, inputs)

    # --- returns (退单) -------------------------------------------------------------------------

    async def add_return(
        self,
        appeal_id: UUID,
        officer_id: str,
        *,
        reason_code: str,
        reason: str,
        requested_at: datetime,
    ) -> PendingReturn:
        """The database refuses a second pending return for one appeal (a partial unique
        index): the decisions settle the first before anyone can ask again."""
        return_id = uuid4()
        await self.session.execute(
            insert(returns).values(
                return_id=return_id,
                appeal_id=appeal_id,
                officer_id=officer_id,
                reason_code=reason_code,
                reason=reason,
                requested_at=requested_at,
                status=ReturnStatus.PENDING.value,
            )
        )
        return PendingReturn(return_id, appeal_id, officer_id, reason_code)

    async def pending_return(self, appeal_id: UUID) -> PendingReturn | None:
        row = (
            await self.session.execute(
                select(returns)
                .where(
                    returns.c.appeal_id == appeal_id,
                    returns.c.status == ReturnStatus.PENDING.value,
                )
                .with_for_update()
            )
        ).first()
        return None if row is None else _pending(row)

    async def settle_return(
        self,
        return_id: UUID,
        status: ReturnStatus,
        *,
        decided_by: str,
        note: str,
        automatic: bool,
        decided_at: datetime,
    ) -> None:
        await self.session.execute(
            update(returns)
            .where(returns.c.return_id == return_id)
            .values(
                status=status.value,
                decided_by=decided_by,
                decided_at=decided_at,
                note=note,
                automatic=automatic,
            )
        )

    async def count_return(self, officer_id: str, *, accepted: bool) -> None:
        counter = officers.c.returns_accepted if accepted else officers.c.returns_rejected
        await self.session.execute(
            update(officers)
            .where(officers.c.officer_id == officer_id)
            .values({counter: counter + 1})
        )


# --- what the HTTP API reads ---------------------------------------------------------------------


async def assignment_row(session: AsyncSession, appeal_id: UUID) -> Any | None:
    """The whole assignment row (its reason and rules trace too), for reading."""
    query = select(assignments).where(assignments.c.appeal_id == appeal_id)
    return (await session.execute(query)).first()


async def officer_unit(session: AsyncSession, officer_id: str) -> str | None:
    row = await officer_row(session, officer_id)
    return None if row is None else str(row.unit)


def returns_query(status: ReturnStatus | None, officer_id: str | None) -> Select[Any]:
    query = select(returns)
    if status is not None:
        query = query.where(returns.c.status == status.value)
    if officer_id is not None:
        query = query.where(returns.c.officer_id == officer_id)
    return query
