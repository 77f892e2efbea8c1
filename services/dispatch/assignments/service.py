"""Who owns an appeal: the first assignment and every decision that moves it (returns 退单,
reassignments, assisting officers 协办), each with the events it causes. The rules pick the
officer (routing.py); this module decides the rest and asks a repository (`AssignmentRepository`:
the Postgres store in the service, an in-memory fake in the unit tests) to claim capacity and
record, and the unit of work to publish.

What holds however the events arrive:
- a return awaiting a ruling is only ever the current holder's: every move of the appeal (a
  return accepted, a reassignment tracking asked for, a supervisor's reassignment) and its
  closure settle a pending return of the officer who no longer holds it (`superseded`: who,
  when and why are recorded; counted neither accepted nor rejected);
- a ruling is on the holder's pending return, or refused (409) when there is none;
- a `ReturnDecided` that accepts is published together with the `AppealReassigned` that moves
  the appeal, in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol
from uuid import UUID

from services.dispatch.assignments.model import (
    Assignment,
    PendingReturn,
    ReturnStatus,
    RoutingInput,
)
from services.dispatch.assignments.routing import (
    Decision,
    Routing,
    RoutingContext,
    RuleOutcome,
    route,
    to_supervisor,
)
from services.dispatch.directory.model import local_today
from shared.clock import utcnow
from shared.events import (
    AppealAssigned,
    AppealReassigned,
    AppealReceived,
    AssistantsChanged,
    Event,
    ReturnDecided,
)

log = logging.getLogger(__name__)

SERVICE = "dispatch"
# A claim fails only when another replica took the officer's last place in between; each
# attempt routes again with fresh loads.
MAX_CLAIM_ATTEMPTS = 5
RETURN_LIMIT = 2  # after this many accepted returns the duty supervisor takes the appeal
NOT_MY_AREA = "not_my_area"
MAX_ASSISTANTS = 10

Cause = Literal["return", "reassignment_request", "manual"]


class AssignmentRepository(Protocol):
    """What the ownership decisions need kept: assignments, officers' capacity, returns."""

    async def load_batch(self, received: Mapping[UUID, RoutingInput]) -> None:
        """Loads at once what assigning these appeals reads (their assignments, what their
        routing looks at) and from then on keeps the reads, claims and records of the unit of
        work to write them together at its end; each decision still sees what the earlier ones
        did (an officer's count, an appeal already assigned)."""
        ...

    async def routing_context(
        self,
        appeal_id: UUID,
        inputs: RoutingInput,
        *,
        today: date,
        excluded: Sequence[str] = (),
        supervisor_only: bool = False,
    ) -> RoutingContext:
        """What the rules look at (`supervisor_only`: just the duty supervisor)."""
        ...

    async def claim(self, officer_id: str, *, ignore_capacity: bool) -> bool:
        """Takes one unit of the officer's capacity; False if it is gone (atomically)."""
        ...

    async def release(self, officer_id: str) -> None: ...

    async def assignment_of(
        self, appeal_id: UUID, *, for_update: bool = False
    ) -> Assignment | None:
        """`for_update`: held until the transaction ends, so decisions on one appeal queue."""
        ...

    async def record_assignment(
        self, appeal_id: UUID, routing: Routing, inputs: RoutingInput, *, assigned_at: datetime
    ) -> None: ...

    async def move_assignment(
        self,
        appeal_id: UUID,
        routing: Routing,
        *,
        excluded: Sequence[str],
        accepted_returns: int,
        moved_at: datetime,
    ) -> None: ...

    async def close_assignment(self, appeal_id: UUID) -> None: ...

    async def set_assistants(
        self, appeal_id: UUID, officer_ids: Sequence[str], *, changed_at: datetime
    ) -> None: ...

    async def officer_name(self, officer_id: str) -> str | None:
        """None if the directory has no such officer."""
        ...

    async def existing_officers(self, officer_ids: Sequence[str]) -> set[str]: ...

    async def cso_contact(self, inputs: RoutingInput) -> tuple[str, str] | None:
        """(credit code, the CSO's party-building assistant) for an enterprise's appeal whose
        CSO has one."""
        ...

    async def add_return(
        self,
        appeal_id: UUID,
        officer_id: str,
        *,
        reason_code: str,
        reason: str,
        requested_at: datetime,
    ) -> PendingReturn: ...

    async def pending_return(self, appeal_id: UUID) -> PendingReturn | None: ...

    async def settle_return(
        self,
        return_id: UUID,
        status: ReturnStatus,
        *,
        decided_by: str,
        note: str,
        automatic: bool,
        decided_at: datetime,
    ) -> None: ...

    async def count_return(self, officer_id: str, *, accepted: bool) -> None:
        """Adds one to the officer's accepted or rejected returns."""
        ...


class Events(Protocol):
    """Where decisions put their events: the unit of work (its outbox)."""

    async def publish(self, event: Event, *, correlation_id: str) -> object: ...


class OwnershipError(Exception):
    """A request that cannot be carried out as asked; `status` is the HTTP answer."""

    status = 409

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotAssigned(OwnershipError):
    status = 404


class UnknownOfficer(OwnershipError):
    status = 422


@dataclass(frozen=True)
class Ruling:
    decided: ReturnDecided
    officer_id: str  # who holds the appeal after the ruling


def routing_input(event: AppealReceived) -> RoutingInput:
    return RoutingInput(
        credit_code=event.appellant.enterprise_credit_code,
        enterprise_name=event.appellant.enterprise_name,
        category=event.category,
        community=event.location.community,
        tracking_code=event.tracking_code,
    )


def superseded_note(cause: Cause | Literal["closed", "stale"], by: str) -> str:
    """Why a pending return was settled without a ruling (read by the dispatcher)."""
    if cause == "closed":
        return "诉求已结案，退单无需再裁定"
    if cause == "stale":
        return "退单人已不再承办此件，无需再裁定"
    moved = {
        "return": "退单获准",
        "reassignment_request": "跟踪服务申请改派",
        "manual": f"主管 {by} 改派",
    }[cause]
    return f"退单尚未裁定，诉求已改派（{moved}），无需再裁定"


class Ownership:
    """The ownership decisions inside one unit of work."""

    def __init__(
        self,
        assignments: AssignmentRepository,
        events: Events,
        *,
        today: Callable[[], date] = local_today,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.assignments = assignments
        self.events = events
        self.today = today
        self.clock = clock

    async def _route_and_claim(
        self,
        appeal_id: UUID,
        inputs: RoutingInput,
        *,
        excluded: Sequence[str] = (),
        supervisor_because: str | None = None,
    ) -> Routing:
        """Routes and takes the chosen officer's capacity."""
        for _ in range(MAX_CLAIM_ATTEMPTS):
            ctx = await self.assignments.routing_context(
                appeal_id,
                inputs,
                today=self.today(),
                excluded=excluded,
                supervisor_only=supervisor_because is not None,
            )
            routing = (
                route(ctx) if supervisor_because is None else to_supervisor(ctx, supervisor_because)
            )
            triage = routing.decision.reason_code == "triage"
            if await self.assignments.claim(routing.decision.officer_id, ignore_capacity=triage):
                return routing
            log.info(
                "officer filled up meanwhile; routing again",
                extra={"appeal_id": str(appeal_id), "officer_id": routing.decision.officer_id},
            )
        ctx = await self.assignments.routing_context(
            appeal_id, inputs, today=self.today(), supervisor_only=True
        )
        routing = to_supervisor(ctx, "候选人员名额在派单时被同时占满")
        await self.assignments.claim(routing.decision.officer_id, ignore_capacity=True)
        return routing

    # --- the first assignment, and the last -----------------------------------------------------

    async def prepare(self, received: Sequence[AppealReceived]) -> None:
        """Loads at once what assigning a batch of received appeals reads; `assign` then decides
        each of them in turn as it would alone, from what the earlier ones left."""
        await self.assignments.load_batch({e.appeal_id: routing_input(e) for e in received})

    async def assign(self, event: AppealReceived, correlation_id: str) -> None:
        if await self.assignments.assignment_of(event.appeal_id) is not None:
            return  # republished under a new event id: it already has its officer
        inputs = routing_input(event)
        routing = await self._route_and_claim(event.appeal_id, inputs)
        assigned_at = self.clock()
        await self.assignments.record_assignment(
            event.appeal_id, routing, inputs, assigned_at=assigned_at
        )
        decision = routing.decision
        contact = await self.assignments.cso_contact(inputs)
        await self.events.publish(
            AppealAssigned(
                appeal_id=event.appeal_id,
                officer_id=decision.officer_id,
                reason_code=decision.reason_code,
                reason=decision.reason,
                assigned_at=assigned_at,
                tracking_code=event.tracking_code,
                enterprise_credit_code=contact[0] if contact else None,
                cso_assistant_id=contact[1] if contact else None,
            ),
            correlation_id=correlation_id,
        )
        log.info(
            "appeal assigned",
            extra={
                "appeal_id": str(event.appeal_id),
                "officer_id": decision.officer_id,
                "reason_code": decision.reason_code,
            },
        )

    async def close(self, appeal_id: UUID) -> None:
        """The appeal's loop is closed: its officer's capacity is free again, and a return
        still pending has nothing left to rule on."""
        held = await self.assignments.assignment_of(appeal_id, for_update=True)
        if held is None or not held.open:
            return
        await self._settle_pending(held, by=SERVICE, note=superseded_note("closed", SERVICE))
        await self.assignments.close_assignment(appeal_id)
        await self.assignments.release(held.officer_id)
        log.info("assignment closed", extra={"appeal_id": str(appeal_id)})

    # --- moving it ------------------------------------------------------------------------------

    async def _open_assignment(self, appeal_id: UUID) -> Assignment:
        held = await self.assignments.assignment_of(appeal_id, for_update=True)
        if held is None:
            raise NotAssigned(f"appeal {appeal_id} has not been assigned")
        if not held.open:
            raise OwnershipError(f"appeal {appeal_id} is closed; its ownership no longer moves")
        return held

    async def _settle_pending(self, held: Assignment, *, by: str, note: str) -> None:
        """Settles a pending return without a ruling: its officer no longer holds the appeal
        (or nobody does). Counted neither accepted nor rejected."""
        pending = await self.assignments.pending_return(held.appeal_id)
        if pending is None:
            return
        await self.assignments.settle_return(
            pending.return_id,
            ReturnStatus.SUPERSEDED,
            decided_by=by,
            note=note,
            automatic=False,
            decided_at=self.clock(),
        )
        log.info(
            "pending return superseded",
            extra={"appeal_id": str(held.appeal_id), "officer_id": pending.officer_id},
        )

    async def _move(
        self,
        held: Assignment,
        *,
        cause: Cause,
        by: str,
        excluded: Sequence[str],
        accepted_returns: int,
        correlation_id: str,
        pick: Routing | None = None,
        supervisor_because: str | None = None,
    ) -> AppealReassigned:
        """Settles the leaving officer's pending return, releases them, claims the next (`pick`
        when a supervisor named them, capacity overruled; else routed), records and publishes
        AppealReassigned."""
        await self._settle_pending(held, by=by, note=superseded_note(cause, by))
        await self.assignments.release(held.officer_id)
        if pick is None:
            routing = await self._route_and_claim(
                held.appeal_id,
                held.routing_input,
                excluded=excluded,
                supervisor_because=supervisor_because,
            )
        else:
            routing = pick
            await self.assignments.claim(pick.decision.officer_id, ignore_capacity=True)
        moved_at = self.clock()
        await self.assignments.move_assignment(
            held.appeal_id,
            routing,
            excluded=excluded,
            accepted_returns=accepted_returns,
            moved_at=moved_at,
        )
        event = AppealReassigned(
            appeal_id=held.appeal_id,
            from_officer_id=held.officer_id,
            officer_id=routing.decision.officer_id,
            reason_code=routing.decision.reason_code,
            reason=routing.decision.reason,
            cause=cause,
            reassigned_at=moved_at,
            tracking_code=held.tracking_code,
        )
        await self.events.publish(event, correlation_id=correlation_id)
        log.info(
            "appeal reassigned",
            extra={
                "appeal_id": str(held.appeal_id),
                "from_officer_id": held.officer_id,
                "officer_id": event.officer_id,
                "cause": cause,
                "reason_code": event.reason_code,
            },
        )
        return event

    # --- returns (退单) --------------------------------------------------------------------------

    async def request_return(
        self,
        *,
        appeal_id: UUID,
        officer_id: str,
        reason_code: str,
        reason: str,
        correlation_id: str,
    ) -> None:
        """Records the holder's request for the duty dispatcher; a `not_my_area` return that
        the rules clearly route elsewhere (not to triage, not over the return limit) is
        accepted now."""
        held = await self.assignments.assignment_of(appeal_id, for_update=True)
        if held is None or not held.open or held.officer_id != officer_id:
            # Nothing to give back: unknown, closed, or it already moved on.
            log.warning(
                "return ignored: the officer does not hold the appeal",
                extra={"appeal_id": str(appeal_id), "officer_id": officer_id},
            )
            return
        pending = await self.assignments.pending_return(appeal_id)
        if pending is not None and pending.officer_id == officer_id:
            log.info("return already awaiting a ruling", extra={"appeal_id": str(appeal_id)})
            return
        if pending is not None:
            # Someone else's, left from before moves settled them: it never blocks the holder.
            await self._settle_pending(held, by=SERVICE, note=superseded_note("stale", SERVICE))
        asked = await self.assignments.add_return(
            appeal_id,
            officer_id,
            reason_code=reason_code,
            reason=reason,
            requested_at=self.clock(),
        )
        if reason_code != NOT_MY_AREA or held.accepted_returns + 1 >= RETURN_LIMIT:
            return
        ctx = await self.assignments.routing_context(
            appeal_id,
            held.routing_input,
            today=self.today(),
            excluded=[*held.excluded_officer_ids, officer_id],
        )
        preview = route(ctx)
        if preview.decision.reason_code == "triage":
            return  # no clear other owner: the dispatcher rules
        await self._rule(
            held,
            asked,
            accept=True,
            decided_by=SERVICE,
            note=f"不属本人职责范围，且规则明确找到其他承办人：{preview.decision.reason}",
            automatic=True,
            correlation_id=correlation_id,
        )

    async def decide_return(
        self,
        appeal_id: UUID,
        *,
        accept: bool,
        decided_by: str,
        note: str,
        correlation_id: str,
    ) -> Ruling:
        """The duty dispatcher's ruling on the holder's pending return (409 without one)."""
        held = await self._open_assignment(appeal_id)
        pending = await self.assignments.pending_return(appeal_id)
        if pending is None or pending.officer_id != held.officer_id:
            raise OwnershipError(f"appeal {appeal_id} has no return awaiting a ruling")
        return await self._rule(
            held,
            pending,
            accept=accept,
            decided_by=decided_by,
            note=note,
            automatic=False,
            correlation_id=correlation_id,
        )

    async def _rule(
        self,
        held: Assignment,
        pending: PendingReturn,
        *,
        accept: bool,
        decided_by: str,
        note: str,
        automatic: bool,
        correlation_id: str,
    ) -> Ruling:
        """Rules on the holder's return; accepted, the appeal moves in the same breath."""
        decided_at = self.clock()
        await self.assignments.settle_return(
            pending.return_id,
            ReturnStatus.ACCEPTED if accept else ReturnStatus.REJECTED,
            decided_by=decided_by,
            note=note,
            automatic=automatic,
            decided_at=decided_at,
        )
        await self.assignments.count_return(pending.officer_id, accepted=accept)
        decided = ReturnDecided(
            appeal_id=held.appeal_id,
            officer_id=pending.officer_id,
            decision="accept" if accept else "reject",
            decided_by=decided_by,
            automatic=automatic,
            note=note,
            decided_at=decided_at,
        )
        await self.events.publish(decided, correlation_id=correlation_id)
        if not accept:
            return Ruling(decided, held.officer_id)
        accepted = held.accepted_returns + 1
        moved = await self._move(
            held,
            cause="return",
            by=decided_by,
            excluded=sorted({*held.excluded_officer_ids, held.officer_id}),
            accepted_returns=accepted,
            correlation_id=correlation_id,
            supervisor_because=f"已被退单 {accepted} 次" if accepted >= RETURN_LIMIT else None,
        )
        return Ruling(decided, moved.officer_id)

    # --- reassignment -----------------------------------------------------------------------

    async def request_reassignment(
        self,
        *,
        appeal_id: UUID,
        exclude_officer_ids: Sequence[str],
        correlation_id: str,
    ) -> None:
        """Tracking asks (not acknowledged in time, officer on leave): route again without the
        current officer and those named."""
        held = await self.assignments.assignment_of(appeal_id, for_update=True)
        if held is None or not held.open:
            log.warning(
                "reassignment ignored: no open assignment", extra={"appeal_id": str(appeal_id)}
            )
            return
        await self._move(
            held,
            cause="reassignment_request",
            by=SERVICE,
            excluded=sorted({*held.excluded_officer_ids, *exclude_officer_ids, held.officer_id}),
            accepted_returns=held.accepted_returns,
            correlation_id=correlation_id,
        )

    async def reassign(
        self,
        appeal_id: UUID,
        *,
        by: str,
        officer_id: str | None,
        note: str,
        correlation_id: str,
    ) -> AppealReassigned:
        """A supervisor's decision: to the officer named (capacity is theirs to overrule), or
        routed again without the current officer."""
        held = await self._open_assignment(appeal_id)
        excluded = sorted({*held.excluded_officer_ids, held.officer_id})
        if officer_id is None:
            return await self._move(
                held,
                cause="manual",
                by=by,
                excluded=excluded,
                accepted_returns=held.accepted_returns,
                correlation_id=correlation_id,
            )
        if officer_id == held.officer_id:
            raise OwnershipError(f"appeal {appeal_id} is already with {officer_id}", "officer_id")
        name = await self.assignments.officer_name(officer_id)
        if name is None:
            raise UnknownOfficer(f"no officer {officer_id}", "officer_id")
        reason = f"主管 {by} 指定改派给 {name}" + (f"：{note}" if note else "")
        decision = Decision(officer_id, "manual", reason)
        return await self._move(
            held,
            cause="manual",
            by=by,
            excluded=[e for e in excluded if e != officer_id],
            accepted_returns=held.accepted_returns,
            correlation_id=correlation_id,
            pick=Routing(decision, (RuleOutcome("manual", True, reason, decision),)),
        )

    # --- assisting officers (协办) --------------------------------------------------------------

    async def set_assistants(
        self,
        appeal_id: UUID,
        *,
        by: str,
        officer_ids: Sequence[str],
        correlation_id: str,
    ) -> AssistantsChanged:
        held = await self._open_assignment(appeal_id)
        wanted = list(dict.fromkeys(officer_ids))
        if held.officer_id in wanted:
            raise UnknownOfficer(
                f"{held.officer_id} leads appeal {appeal_id}; a lead is not its own assistant",
                "officer_ids",
            )
        known = await self.assignments.existing_officers(wanted)
        missing = [o for o in wanted if o not in known]
        if missing:
            raise UnknownOfficer(f"no such officers: {', '.join(missing)}", "officer_ids")
        changed_at = self.clock()
        await self.assignments.set_assistants(appeal_id, wanted, changed_at=changed_at)
        event = AssistantsChanged(
            appeal_id=appeal_id,
            lead_officer_id=held.officer_id,
            assistant_officer_ids=wanted,
            changed_by=by,
            changed_at=changed_at,
        )
        await self.events.publish(event, correlation_id=correlation_id)
        return event
