"""Dispatch's persistence for routing and ownership: what the rules may look at, the capacity
claim, assignments, returns and assistants (`PostgresAssignments`, the ownership decisions'
repository), and the reads the HTTP API makes. Capacity is decided here, in the database: a claim
is one conditional UPDATE, so two replicas racing for the same officer cannot push them past it;
in a consumer's batch the officers routing may pick are locked when they are loaded, so the
claims decided from those counts hold until the batch writes them, in one UPDATE.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from itertools import chain
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    ARRAY,
    Integer,
    Select,
    String,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import UUID as PgUUID
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
from services.dispatch.directory.store import officer_row
from services.dispatch.tables import (
    assignments,
    departments,
    duty,
    enterprises,
    officers,
    returns,
)
from shared.vocabulary import IndustryChain, OfficerRole

# The rules take the least loaded of each group, so a few of the least loaded are enough.
CANDIDATES_PER_GROUP = 20

# --- statements, built once ----------------------------------------------------------------------

_TEXTS = ARRAY(String)
_WORDS = ARRAY(Text)  # what `jsonb ?| text[]` takes
_APPEAL = bindparam("b_appeal_id", type_=PgUUID(as_uuid=True))
_OFFICER = bindparam("b_officer_id", type_=String)

ENTERPRISES = select(enterprises).where(
    or_(
        enterprises.c.credit_code == any_(bindparam("codes", type_=_TEXTS)),
        enterprises.c.name == any_(bindparam("names", type_=_TEXTS)),
    )
)
OWNING_DEPARTMENTS = (
    select(departments.c.department_id, departments.c.name, departments.c.categories)
    .where(departments.c.categories.has_any(bindparam("categories", type_=_WORDS)))
    .order_by(departments.c.department_id)
)


def _routing_officers() -> Select[Any]:
    """Every officer the rules may look at for the enterprises, departments and communities
    named: the CSOs (`ids`) and their assistants whatever their state, the duty supervisor and
    the first supervisor on duty (triage without one), and the members of the groups (chain
    teams, departments' officers, community workers) who are on duty and under capacity. Leave
    is judged in Python, on the day routing asks about."""
    ids = bindparam("ids", type_=_TEXTS)
    cso = officers.alias("cso")
    supervisor = officers.alias("first_supervisor")
    duty_supervisor = (
        select(duty.c.officer_id).where(duty.c.post == DutyPost.SUPERVISOR.value).scalar_subquery()
    )
    first_supervisor = (
        select(func.min(supervisor.c.officer_id))
        .where(supervisor.c.role == OfficerRole.SUPERVISOR.value, supervisor.c.on_duty)
        .scalar_subquery()
    )
    in_a_group = and_(
        officers.c.on_duty,
        officers.c.open_assignments < officers.c.capacity,
        or_(
            officers.c.chain == any_(bindparam("chains", type_=_TEXTS)),
            officers.c.department_id == any_(bindparam("department_ids", type_=_TEXTS)),
            and_(
                officers.c.role == OfficerRole.COMMUNITY_WORKER.value,
                officers.c.communities.has_any(bindparam("communities", type_=_WORDS)),
            ),
        ),
    )
    return (
        select(
            officers,
            (officers.c.officer_id == duty_supervisor).label("holds_duty"),
            (officers.c.officer_id == first_supervisor).label("first_supervisor"),
        )
        .where(
            or_(
                officers.c.officer_id == any_(ids),
                officers.c.officer_id.in_(
                    select(cso.c.paired_officer_id).where(cso.c.officer_id == any_(ids))
                ),
                officers.c.officer_id == duty_supervisor,
                officers.c.officer_id == first_supervisor,
                in_a_group,
            )
        )
        .order_by(officers.c.officer_id)
    )


ROUTING_OFFICERS = _routing_officers()
# In a batch: held (in id order, so two batches lock shared officers alike) until it commits, so
# nobody else moves the counts the batch decides from.
ROUTING_OFFICERS_LOCKED = ROUTING_OFFICERS.with_for_update(key_share=True, of=officers)

ASSIGNMENT = select(assignments).where(assignments.c.appeal_id == _APPEAL)
ASSIGNMENT_FOR_UPDATE = ASSIGNMENT.with_for_update()
ASSIGNMENTS = select(assignments).where(
    assignments.c.appeal_id == any_(bindparam("appeal_ids", type_=ARRAY(PgUUID(as_uuid=True))))
)
RECORD = insert(assignments).on_conflict_do_nothing(index_elements=["appeal_id"])
CLOSE = (
    update(assignments)
    .where(assignments.c.appeal_id == _APPEAL)
    .values(open=False, updated_at=func.now())
)
# The row lock this UPDATE takes makes a concurrent claim wait and then see the new count.
CLAIM_ANYWAY = (
    update(officers)
    .where(officers.c.officer_id == _OFFICER)
    .values(open_assignments=officers.c.open_assignments + 1)
    .returning(officers.c.officer_id)
)
CLAIM = CLAIM_ANYWAY.where(officers.c.open_assignments < officers.c.capacity)
RELEASE = (
    update(officers)
    .where(officers.c.officer_id == _OFFICER, officers.c.open_assignments > 0)
    .values(open_assignments=officers.c.open_assignments - 1)
)


def _counted() -> Any:
    moved = (
        func.unnest(
            cast(bindparam("ids", type_=_TEXTS), _TEXTS),
            cast(bindparam("deltas", type_=ARRAY(Integer)), ARRAY(Integer)),
        )
        .table_valued("officer_id", "delta")
        .render_derived(name="moved")
    )
    return (
        update(officers)
        .where(officers.c.officer_id == moved.c.officer_id)
        .values(open_assignments=officers.c.open_assignments + moved.c.delta)
    )


# A batch's claims and releases, officer by officer, in one statement.
COUNT_MANY = _counted()
PENDING_RETURN = (
    select(returns)
    .where(returns.c.appeal_id == _APPEAL, returns.c.status == ReturnStatus.PENDING.value)
    .with_for_update()
)


# --- the directory as routing sees it ------------------------------------------------------------


@dataclass
class _Officer:
    """An officer as the rules look at them; `open_assignments` follows the batch's claims."""

    officer_id: str
    name: str
    role: OfficerRole
    on_duty: bool
    capacity: int
    open_assignments: int
    leave: list[LeavePeriod]
    paired_officer_id: str | None
    chain: str | None
    department_id: str | None
    communities: frozenset[str]

    @classmethod
    def of(cls, row: Any) -> _Officer:
        return cls(
            officer_id=row.officer_id,
            name=row.name,
            role=OfficerRole(row.role),
            on_duty=row.on_duty,
            capacity=row.capacity,
            open_assignments=row.open_assignments,
            leave=[LeavePeriod.model_validate(p) for p in row.leave or []],
            paired_officer_id=row.paired_officer_id,
            chain=row.chain,
            department_id=row.department_id,
            communities=frozenset(row.communities or []),
        )

    def candidate(self, today: date) -> Candidate:
        return Candidate(
            officer_id=self.officer_id,
            name=self.name,
            role=self.role,
            on_duty=self.on_duty,
            capacity=self.capacity,
            open_assignments=self.open_assignments,
            on_leave=on_leave(self.leave, today),
        )


def _by_load(candidate: Candidate) -> tuple[float, int, str]:
    return (candidate.load, candidate.open_assignments, candidate.officer_id)


@dataclass(frozen=True)
class _Scope:
    """What routing some appeals looks up: enterprises by code or exact name, categories, and
    residents' communities."""

    codes: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    communities: frozenset[str] = frozenset()

    @classmethod
    def of(cls, inputs: Iterable[RoutingInput]) -> _Scope:
        codes, names, categories, communities = set(), set(), set(), set()
        for i in inputs:
            if i.credit_code is not None:
                codes.add(i.credit_code.strip().upper())
            elif i.enterprise_name:
                names.add(i.enterprise_name.strip())
            if i.category is not None:
                categories.add(i.category.value)
            if i.resident and i.community:
                communities.add(i.community)
        return cls(
            frozenset(codes), frozenset(names), frozenset(categories), frozenset(communities)
        )

    def __sub__(self, other: _Scope) -> _Scope:
        return _Scope(
            self.codes - other.codes,
            self.names - other.names,
            self.categories - other.categories,
            self.communities - other.communities,
        )

    def __or__(self, other: _Scope) -> _Scope:
        return _Scope(
            self.codes | other.codes,
            self.names | other.names,
            self.categories | other.categories,
            self.communities | other.communities,
        )

    def __bool__(self) -> bool:
        return bool(self.codes or self.names or self.categories or self.communities)


@dataclass
class _Directory:
    """The part of the directory routing some appeals looks at, loaded in one query per table
    (`extend`), and the routing context of each of them built from it in memory, in rule order
    and as the database would have answered: groups hold their few least loaded available
    members; a CSO, their assistant and the duty supervisor are there whatever their state."""

    scope: _Scope = field(default_factory=_Scope)
    loaded: bool = False
    enterprises: dict[str, Any] = field(default_factory=dict)  # by credit code
    by_name: dict[str, list[Any]] = field(default_factory=dict)
    departments: dict[str, Any] = field(default_factory=dict)  # by id
    owning: dict[str, list[Any]] = field(default_factory=dict)  # by category, ordered by id
    officers: dict[str, _Officer] = field(default_factory=dict)
    chains: set[str] = field(default_factory=set)  # whose teams were loaded
    staffed: set[str] = field(default_factory=set)  # departments whose officers were loaded
    by_chain: dict[str, list[str]] = field(default_factory=dict)
    by_department: dict[str, list[str]] = field(default_factory=dict)
    by_community: dict[str, list[str]] = field(default_factory=dict)
    duty_supervisor_id: str | None = None
    first_supervisor_id: str | None = None
    # Capacity taken (+) and given back (-) since the last write, by officer.
    moved: dict[str, int] = field(default_factory=dict)

    async def extend(
        self, session: AsyncSession, inputs: Iterable[RoutingInput], *, lock: bool
    ) -> None:
        """Loads what routing `inputs` needs and this does not hold yet. Officers already held
        keep their counts (a batch's claims are in them)."""
        new = _Scope.of(inputs) - self.scope
        first = not self.loaded
        if not (first or new):
            return
        self.loaded, self.scope = True, self.scope | new
        found: list[Any] = []
        if new.codes or new.names:
            found = list(
                await session.execute(
                    ENTERPRISES, {"codes": sorted(new.codes), "names": sorted(new.names)}
                )
            )
            self.enterprises.update((r.credit_code, r) for r in found)
            self.by_name = {}
            for r in self.enterprises.values():
                self.by_name.setdefault(r.name, []).append(r)
        owning: list[Any] = []
        if new.categories:
            owning = list(
                await session.execute(OWNING_DEPARTMENTS, {"categories": sorted(new.categories)})
            )
            self.departments.update((r.department_id, r) for r in owning)
            self.owning = {}
            for r in sorted(self.departments.values(), key=lambda d: d.department_id):
                for category in r.categories:
                    self.owning.setdefault(category, []).append(r)
        chains = {r.chain for r in found if r.chain != IndustryChain.OTHER.value} - self.chains
        staffed = {r.department_id for r in owning} - self.staffed
        self.chains |= chains
        self.staffed |= staffed
        csos = {r.cso_officer_id for r in found if r.cso_officer_id is not None}
        if not (first or csos or chains or staffed or new.communities):
            return  # the supervisors came with the first load
        rows = await session.execute(
            ROUTING_OFFICERS_LOCKED if lock else ROUTING_OFFICERS,
            {
                "ids": sorted(csos),
                "chains": sorted(chains),
                "department_ids": sorted(staffed),
                "communities": sorted(new.communities),
            },
        )
        for row in rows:
            if row.holds_duty:
                self.duty_supervisor_id = row.officer_id
            if row.first_supervisor:
                self.first_supervisor_id = row.officer_id
            if row.officer_id in self.officers:
                continue
            officer = self.officers[row.officer_id] = _Officer.of(row)
            if officer.chain is not None:
                self.by_chain.setdefault(officer.chain, []).append(officer.officer_id)
            if officer.department_id is not None:
                self.by_department.setdefault(officer.department_id, []).append(officer.officer_id)
            if officer.role is OfficerRole.COMMUNITY_WORKER:
                for community in officer.communities:
                    self.by_community.setdefault(community, []).append(officer.officer_id)

    def forget_scope(self) -> None:
        """Someone this does not hold got capacity back (they may be a group's now): the next
        `extend` asks again. The officers held keep their counts."""
        self.scope, self.chains, self.staffed = _Scope(), set(), set()

    def enterprise(self, inputs: RoutingInput) -> Any | None:
        if inputs.credit_code is not None:
            return self.enterprises.get(inputs.credit_code.strip().upper())
        if inputs.enterprise_name:
            # An exact name shared by two enterprises identifies neither.
            named = self.by_name.get(inputs.enterprise_name.strip(), [])
            return named[0] if len(named) == 1 else None
        return None

    def officer(self, officer_id: str | None) -> _Officer | None:
        return None if officer_id is None else self.officers.get(officer_id)

    def group(self, ids: Iterable[str], today: date, excluded: Collection[str]) -> list[Candidate]:
        """The few least loaded of `ids` who are available and not excluded."""
        fits = []
        for officer_id in ids:
            o = self.officers[officer_id]
            if o.on_duty and o.open_assignments < o.capacity and officer_id not in excluded:
                candidate = o.candidate(today)
                if not candidate.on_leave:
                    fits.append(candidate)
        return heapq.nsmallest(CANDIDATES_PER_GROUP, fits, key=_by_load)

    def duty_supervisor(self, today: date) -> Candidate | None:
        """The holder of the duty supervisor post; without one, the first supervisor on duty by
        id, so an appeal that no rule fits still gets a person."""
        held = self.officer(self.duty_supervisor_id) or self.officer(self.first_supervisor_id)
        return None if held is None else held.candidate(today)

    def context(
        self,
        appeal_id: UUID,
        inputs: RoutingInput,
        *,
        today: date,
        excluded: Sequence[str] = (),
        supervisor_only: bool = False,
    ) -> RoutingContext:
        """What the rules need, in rule order and no further: once a rule is sure to find
        someone (an available CSO, a team or department with an available member…), the groups
        of the rules after it are left empty (the trace lists those rules as not tried)."""
        ctx = RoutingContext(
            appeal_id=str(appeal_id),
            category=inputs.category,
            resident=inputs.resident,
            community=inputs.community,
            excluded=frozenset(excluded),
        )
        if supervisor_only:
            return replace(ctx, duty_supervisor=self.duty_supervisor(today))
        out = ctx.excluded

        def settled(candidate: Candidate | None) -> bool:
            return candidate is not None and candidate.available and candidate.officer_id not in out

        enterprise = self.enterprise(inputs)
        if enterprise is not None:
            info = EnterpriseInfo(
                credit_code=enterprise.credit_code,
                name=enterprise.name,
                chain=IndustryChain(enterprise.chain),
                community=enterprise.community,
                has_cso=enterprise.cso_officer_id is not None,
            )
            ctx = replace(ctx, enterprise=info)
            cso = self.officer(enterprise.cso_officer_id)
            if cso is not None:
                assistant = self.officer(cso.paired_officer_id)
                ctx = replace(
                    ctx,
                    cso=cso.candidate(today),
                    cso_assistant=None if assistant is None else assistant.candidate(today),
                )
                if settled(ctx.cso) or settled(ctx.cso_assistant):
                    return ctx
            if info.chain is not IndustryChain.OTHER:
                team = self.group(self.by_chain.get(info.chain.value, ()), today, out)
                ctx = replace(ctx, chain_team=team)
                if team:
                    return ctx
        if inputs.category is not None:
            owning = self.owning.get(inputs.category.value, [])
            if owning:
                members = self.group(
                    chain.from_iterable(
                        self.by_department.get(d.department_id, ()) for d in owning
                    ),
                    today,
                    out,
                )
                ctx = replace(
                    ctx, departments=[d.name for d in owning], department_officers=members
                )
                if members:
                    return ctx
        if inputs.resident and inputs.community:
            workers = self.group(self.by_community.get(inputs.community, ()), today, out)
            ctx = replace(ctx, community_workers=workers)
            if workers:
                return ctx
        return replace(ctx, duty_supervisor=self.duty_supervisor(today))

    def cso_contact(self, inputs: RoutingInput) -> tuple[str, str] | None:
        """(credit code, the CSO's party-building assistant) for an enterprise's appeal whose
        CSO has one: notify copies the assistant in, and cannot wait for its own directory
        copy."""
        enterprise = self.enterprise(inputs)
        if enterprise is None:
            return None
        cso = self.officer(enterprise.cso_officer_id)
        if cso is None or cso.paired_officer_id is None:
            return None
        return enterprise.credit_code, cso.paired_officer_id

    def take(self, officer_id: str, *, ignore_capacity: bool) -> bool | None:
        """A claim on an officer held (locked) here, decided as the conditional UPDATE would;
        None for an officer not held."""
        held = self.officers.get(officer_id)
        if held is None:
            return None
        if not ignore_capacity and held.open_assignments >= held.capacity:
            return False
        held.open_assignments += 1
        self.moved[officer_id] = self.moved.get(officer_id, 0) + 1
        return True

    def give_back(self, officer_id: str) -> bool:
        """A release of an officer held here (False: not held)."""
        held = self.officers.get(officer_id)
        if held is None:
            return False
        if held.open_assignments > 0:
            held.open_assignments -= 1
            self.moved[officer_id] = self.moved.get(officer_id, 0) - 1
        return True


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


@dataclass
class _Batch:
    """What a consumer's batch loaded, and what it wrote that is not in the database yet."""

    directory: _Directory
    # The batch's appeals as loaded (None: not assigned), and as its decisions left them.
    assignments: dict[UUID, Assignment | None]
    recorded: list[dict[str, Any]] = field(default_factory=list)


class PostgresAssignments:
    """The ownership decisions' repository over dispatch's tables, in one session (the unit of
    work's).

    Writes through, one statement each (routes, the lifecycle consumer), routing from the
    directory as it is at each call. After `load_batch` (the consumer of received appeals,
    once per batch): answers from what it loaded, holds the officers routing may pick (locked),
    decides claims from their counts, and keeps the claims and new assignments for `flush`,
    which the unit of work calls before it commits: one statement per table for the batch."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._batch: _Batch | None = None

    # --- a batch of received appeals ---------------------------------------------------------

    async def load_batch(self, received: Mapping[UUID, RoutingInput]) -> None:
        batch = self._batch
        if batch is None:
            batch = self._batch = _Batch(_Directory(), {})
        wanted = sorted(set(received) - set(batch.assignments))
        if wanted:
            found = {
                row.appeal_id: _assignment(row)
                for row in await self.session.execute(ASSIGNMENTS, {"appeal_ids": wanted})
            }
            batch.assignments.update((a, found.get(a)) for a in wanted)
        await batch.directory.extend(self.session, received.values(), lock=True)

    async def flush(self) -> None:
        """Writes the batch's claims (one UPDATE) and its new assignments (one INSERT)."""
        batch = self._batch
        if batch is None:
            return
        moved = {o: n for o, n in batch.directory.moved.items() if n}
        batch.directory.moved = {}
        if moved:
            await self.session.execute(
                COUNT_MANY, {"ids": list(moved), "deltas": list(moved.values())}
            )
        recorded, batch.recorded = batch.recorded, []
        if recorded:
            await self.session.execute(RECORD, recorded)

    async def _directory(self, inputs: RoutingInput | None) -> _Directory:
        """The batch's directory (extended if `inputs` needs more), or, outside a batch, the
        directory as it is now (for no inputs: just the supervisors)."""
        wanted = [] if inputs is None else [inputs]
        if self._batch is not None:
            await self._batch.directory.extend(self.session, wanted, lock=True)
            return self._batch.directory
        directory = _Directory()
        await directory.extend(self.session, wanted, lock=False)
        return directory

    # --- the repository ------------------------------------------------------------------------

    async def routing_context(
        self,
        appeal_id: UUID,
        inputs: RoutingInput,
        *,
        today: date,
        excluded: Sequence[str] = (),
        supervisor_only: bool = False,
    ) -> RoutingContext:
        directory = await self._directory(None if supervisor_only else inputs)
        return directory.context(
            appeal_id, inputs, today=today, excluded=excluded, supervisor_only=supervisor_only
        )

    async def claim(self, officer_id: str, *, ignore_capacity: bool) -> bool:
        if self._batch is not None:
            taken = self._batch.directory.take(officer_id, ignore_capacity=ignore_capacity)
            if taken is not None:
                return taken
        statement = CLAIM_ANYWAY if ignore_capacity else CLAIM
        claimed = await self.session.execute(statement, {"b_officer_id": officer_id})
        return claimed.first() is not None

    async def release(self, officer_id: str) -> None:
        if self._batch is not None and self._batch.directory.give_back(officer_id):
            return
        await self.session.execute(RELEASE, {"b_officer_id": officer_id})
        if self._batch is not None:
            self._batch.directory.forget_scope()

    async def assignment_of(
        self, appeal_id: UUID, *, for_update: bool = False
    ) -> Assignment | None:
        batch = self._batch
        if batch is not None and appeal_id in batch.assignments:
            if not for_update:
                return batch.assignments[appeal_id]
            # To be locked, one the batch recorded must be in the table.
            await self.flush()
        statement = ASSIGNMENT_FOR_UPDATE if for_update else ASSIGNMENT
        row = (await self.session.execute(statement, {"b_appeal_id": appeal_id})).first()
        held = None if row is None else _assignment(row)
        if batch is not None:
            batch.assignments[appeal_id] = held
        return held

    async def record_assignment(
        self, appeal_id: UUID, routing: Routing, inputs: RoutingInput, *, assigned_at: datetime
    ) -> None:
        """Nothing changes if the appeal was already assigned. The caller has claimed the
        officer's capacity."""
        values = {
            "appeal_id": appeal_id,
            "officer_id": routing.decision.officer_id,
            "reason_code": routing.decision.reason_code,
            "reason": routing.decision.reason,
            "assigned_at": assigned_at,
            "routing_input": inputs.model_dump(mode="json"),
            "rules": routing.trace(),
            "tracking_code": inputs.tracking_code,
            "updated_at": assigned_at,
        }
        batch = self._batch
        if batch is None:
            await self.session.execute(RECORD, [values])
            return
        if batch.assignments.get(appeal_id) is not None:
            return
        batch.recorded.append(values)
        batch.assignments[appeal_id] = Assignment(
            appeal_id=appeal_id,
            officer_id=routing.decision.officer_id,
            open=True,
            routing_input=inputs,
            tracking_code=inputs.tracking_code,
        )

    async def _written(self) -> None:
        """Before a statement on rows a batch may not have written yet."""
        if self._batch is not None:
            await self.flush()

    async def move_assignment(
        self,
        appeal_id: UUID,
        routing: Routing,
        *,
        excluded: Sequence[str],
        accepted_returns: int,
        moved_at: datetime,
    ) -> None:
        await self._written()
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
        self._forget(appeal_id)

    async def close_assignment(self, appeal_id: UUID) -> None:
        await self._written()
        await self.session.execute(CLOSE, {"b_appeal_id": appeal_id})
        self._forget(appeal_id)

    async def set_assistants(
        self, appeal_id: UUID, officer_ids: Sequence[str], *, changed_at: datetime
    ) -> None:
        await self._written()
        await self.session.execute(
            update(assignments)
            .where(assignments.c.appeal_id == appeal_id)
            .values(assistant_officer_ids=list(officer_ids), updated_at=changed_at)
        )
        self._forget(appeal_id)

    def _forget(self, appeal_id: UUID) -> None:
        """A batch's copy of an assignment changed in the database: read it again."""
        if self._batch is not None:
            self._batch.assignments.pop(appeal_id, None)

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
        return (await self._directory(inputs)).cso_contact(inputs)

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
        row = (await self.session.execute(PENDING_RETURN, {"b_appeal_id": appeal_id})).first()
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
