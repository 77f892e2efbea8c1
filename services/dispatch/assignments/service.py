"""Who owns an appeal: the first assignment and every decision that moves it (returns 退单,
reassignments, assisting officers 协办), each in the caller's transaction with the events it
causes. The rules decide (routing.py); this module claims capacity, records and publishes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.assignments import store
from services.dispatch.assignments.routing import (
    Decision,
    Routing,
    RuleOutcome,
    route,
    to_supervisor,
)
from services.dispatch.assignments.store import RoutingInput
from services.dispatch.directory.model import local_today
from services.dispatch.directory.store import officer_row
from shared.clock import utcnow
from shared.events import (
    AppealAssigned,
    AppealReassigned,
    AppealReceived,
    AssistantsChanged,
    Event,
    ReturnDecided,
)
from shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

SERVICE = "dispatch"
# A claim fails only when another replica took the officer's last place in between; each
# attempt routes again with fresh loads.
MAX_CLAIM_ATTEMPTS = 5
RETURN_LIMIT = 2  # after this many accepted returns the duty supervisor takes the appeal
NOT_MY_AREA = "not_my_area"
MAX_ASSISTANTS = 10

Cause = Literal["return", "reassignment_request", "manual"]


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


def routing_input(event: AppealReceived) -> RoutingInput:
    return RoutingInput(
        credit_code=event.appellant.enterprise_credit_code,
        enterprise_name=event.appellant.enterprise_name,
        category=event.category,
        community=event.location.community,
        tracking_code=event.tracking_code,
    )


class Ownership:
    def __init__(
        self,
        *,
        today: Callable[[], date] = local_today,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.today = today
        self.clock = clock

    async def _publish(self, uow: UnitOfWork, event: Event, correlation_id: str) -> None:
        await uow.publish(event, correlation_id=correlation_id)

    async def _route_and_claim(
        self,
        session: AsyncSession,
        appeal_id: UUID,
        inputs: RoutingInput,
        *,
        excluded: Sequence[str] = (),
        supervisor_because: str | None = None,
    ) -> Routing:
        """Routes and takes the chosen officer's capacity in the database."""
        for _ in range(MAX_CLAIM_ATTEMPTS):
            ctx = await store.routing_context(
                session,
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
            if await store.claim(session, routing.decision.officer_id, ignore_capacity=triage):
                return routing
            log.info(
                "officer filled up meanwhile; routing again",
                extra={"appeal_id": str(appeal_id), "officer_id": routing.decision.officer_id},
            )
        ctx = await store.routing_context(
            session, appeal_id, inputs, today=self.today(), supervisor_only=True
        )
        routing = to_supervisor(ctx, "候选人员名额在派单时被同时占满")
        await store.claim(session, routing.decision.officer_id, ignore_capacity=True)
        return routing

    # --- the first assignment -----------------------------------------------------------------

    async def assign(self, uow: UnitOfWork, event: AppealReceived, correlation_id: str) -> None:
        session = uow.session
        if await store.assignment_of(session, event.appeal_id) is not None:
            return  # republished under a new event id: it already has its officer
        inputs = routing_input(event)
        routing = await self._route_and_claim(session, event.appeal_id, inputs)
        assigned_at = self.clock()
        await store.record_assignment(
            session,
            appeal_id=event.appeal_id,
            routing=routing,
            inputs=inputs,
            assigned_at=assigned_at,
        )
        decision = routing.decision
        enterprise = await store.cso_of_appellant(session, inputs)
        await self._publish(
            uow,
            AppealAssigned(
                appeal_id=event.appeal_id,
                officer_id=decision.officer_id,
                reason_code=decision.reason_code,
                reason=decision.reason,
                assigned_at=assigned_at,
                tracking_code=event.tracking_code,
                enterprise_credit_code=enterprise[0] if enterprise else None,
                cso_assistant_id=enterprise[1] if enterprise else None,
            ),
            correlation_id,
        )
        log.info(
            "appeal assigned",
            extra={
                "appeal_id": str(event.appeal_id),
                "officer_id": decision.officer_id,
                "reason_code": decision.reason_code,
            },
        )

    async def close(self, session: AsyncSession, appeal_id: UUID) -> None:
        """The appeal's loop is closed: its officer's capacity is free again."""
        if await store.close_assignment(session, appeal_id):
            log.info("assignment closed", extra={"appeal_id": str(appeal_id)})

    # --- moving it ------------------------------------------------------------------------------

    async def _open_assignment(self, session: AsyncSession, appeal_id: UUID) -> Any:
        row = await store.assignment_of(session, appeal_id, for_update=True)
        if row is None:
            raise NotAssigned(f"appeal {appeal_id} has not been assigned")
        if not row.open:
            raise OwnershipError(f"appeal {appeal_id} is closed; its ownership no longer moves")
        return row

    async def _move(
        self,
        uow: UnitOfWork,
        row: Any,
        *,
        cause: Cause,
        excluded: Sequence[str],
        accepted_returns: int,
        correlation_id: str,
        routing: Routing | None = None,
        supervisor_because: str | None = None,
    ) -> AppealReassigned:
        """Releases the current officer, claims the next (`routing` when already decided and
        claimed, as a manual pick is), records and publishes AppealReassigned."""
        session = uow.session
        inputs = RoutingInput.model_validate(row.routing_input)
        await store.release(session, row.officer_id)
        if routing is None:
            routing = await self._route_and_claim(
                session,
                row.appeal_id,
                inputs,
                excluded=excluded,
                supervisor_because=supervisor_because,
            )
        moved_at = self.clock()
        await store.move_assignment(
            session,
            row.appeal_id,
            routing=routing,
            excluded=excluded,
            accepted_returns=accepted_returns,
            moved_at=moved_at,
        )
        event = AppealReassigned(
            appeal_id=row.appeal_id,
            from_officer_id=row.officer_id,
            officer_id=routing.decision.officer_id,
            reason_code=routing.decision.reason_code,
            reason=routing.decision.reason,
            cause=cause,
            reassigned_at=moved_at,
            tracking_code=row.tracking_code,
        )
        await self._publish(uow, event, correlation_id)
        log.info(
            "appeal reassigned",
            extra={
                "appeal_id": str(row.appeal_id),
                "from_officer_id": row.officer_id,
                "officer_id": event.officer_id,
                "cause": cause,
                "reason_code": event.reason_code,
            },
        )
        return event

    # --- returns (退单) --------------------------------------------------------------------------

    async def request_return(
        self,
        uow: UnitOfWork,
        *,
        appeal_id: UUID,
        officer_id: str,
        reason_code: str,
        reason: str,
        correlation_id: str,
    ) -> None:
        """Records the request for the duty dispatcher; a `not_my_area` return that the rules
        clearly route elsewhere (not to triage, not over the return limit) is accepted now."""
        session = uow.session
        row = await store.assignment_of(session, appeal_id, for_update=True)
        if row is None or not row.open or row.officer_id != officer_id:
            # Nothing to give back: unknown, closed, or it already moved on.
            log.warning(
                "return ignored: the officer does not hold the appeal",
                extra={"appeal_id": str(appeal_id), "officer_id": officer_id},
            )
            return
        if await store.pending_return(session, appeal_id) is not None:
            log.info("return already awaiting a ruling", extra={"appeal_id": str(appeal_id)})
            return
        return_id = await store.add_return(
            session,
            appeal_id=appeal_id,
            officer_id=officer_id,
            reason_code=reason_code,
            reason=reason,
            requested_at=self.clock(),
        )
        if reason_code != NOT_MY_AREA or row.accepted_returns + 1 >= RETURN_LIMIT:
            return
        excluded = [*row.excluded_officer_ids, officer_id]
        ctx = await store.routing_context(
            session,
            appeal_id,
            RoutingInput.model_validate(row.routing_input),
            today=self.today(),
            excluded=excluded,
        )
        preview = route(ctx)
        if preview.decision.reason_code == "triage":
            return  # no clear other owner: the dispatcher rules
        await self._decide(
            uow,
            row,
            return_id=return_id,
            officer_id=officer_id,
            accept=True,
            decided_by=SERVICE,
            note=f"不属本人职责范围，且规则明确找到其他承办人：{preview.decision.reason}",
            automatic=True,
            correlation_id=correlation_id,
        )

    async def decide_return(
        self,
        uow: UnitOfWork,
        appeal_id: UUID,
        *,
        accept: bool,
        decided_by: str,
        note: str,
        correlation_id: str,
    ) -> ReturnDecided:
        session = uow.session
        row = await self._open_assignment(session, appeal_id)
        pending = await store.pending_return(session, appeal_id)
        if pending is None:
            raise OwnershipError(f"appeal {appeal_id} has no return awaiting a ruling")
        return await self._decide(
            uow,
            row,
            return_id=pending.return_id,
            officer_id=pending.officer_id,
            accept=accept,
            decided_by=decided_by,
            note=note,
            automatic=False,
            correlation_id=correlation_id,
        )

    async def _decide(
        self,
        uow: UnitOfWork,
        row: Any,
        *,
        return_id: UUID,
        officer_id: str,
        accept: bool,
        decided_by: str,
        note: str,
        automatic: bool,
        correlation_id: str,
    ) -> ReturnDecided:
        session = uow.session
        decided_at = self.clock()
        await store.decide_return(
            session,
            return_id,
            officer_id=officer_id,
            accepted=accept,
            decided_by=decided_by,
            note=note,
            automatic=automatic,
            decided_at=decided_at,
        )
        decided = ReturnDecided(
            appeal_id=row.appeal_id,
            officer_id=officer_id,
            decision="accept" if accept else "reject",
            decided_by=decided_by,
            automatic=automatic,
            note=note,
            decided_at=decided_at,
        )
        await self._publish(uow, decided, correlation_id)
        if accept and row.officer_id == officer_id:
            accepted = row.accepted_returns + 1
            await self._move(
                uow,
                row,
                cause="return",
                excluded=sorted({*row.excluded_officer_ids, officer_id}),
                accepted_returns=accepted,
                correlation_id=correlation_id,
                supervisor_because=(
                    f"已被退单 {accepted} 次" if accepted >= RETURN_LIMIT else None
                ),
            )
        return decided

    # --- reassignment -----------------------------------------------------------------------

    async def request_reassignment(
        self,
        uow: UnitOfWork,
        *,
        appeal_id: UUID,
        exclude_officer_ids: Sequence[str],
        correlation_id: str,
    ) -> None:
        """Tracking asks (not acknowledged in time, officer on leave): route again without the
        current officer and those named."""
        session = uow.session
        row = await store.assignment_of(session, appeal_id, for_update=True)
        if row is None or not row.open:
            log.warning(
                "reassignment ignored: no open assignment", extra={"appeal_id": str(appeal_id)}
            )
            return
        excluded = sorted({*row.excluded_officer_ids, *exclude_officer_ids, row.officer_id})
        await self._move(
            uow,
            row,
            cause="reassignment_request",
            excluded=excluded,
            accepted_returns=row.accepted_returns,
            correlation_id=correlation_id,
        )

    async def reassign(
        self,
        uow: UnitOfWork,
        appeal_id: UUID,
        *,
        by: str,
        officer_id: str | None,
        note: str,
        correlation_id: str,
    ) -> AppealReassigned:
        """A supervisor's decision: to the officer named (capacity is theirs to overrule), or
        routed again without the current officer."""
        session = uow.session
        row = await self._open_assignment(session, appeal_id)
        excluded = sorted({*row.excluded_officer_ids, row.officer_id})
        if officer_id is None:
            return await self._move(
                uow,
                row,
                cause="manual",
                excluded=excluded,
                accepted_returns=row.accepted_returns,
                correlation_id=correlation_id,
            )
        if officer_id == row.officer_id:
            raise OwnershipError(f"appeal {appeal_id} is already with {officer_id}", "officer_id")
        target = await officer_row(session, officer_id)
        if target is None:
            raise UnknownOfficer(f"no officer {officer_id}", "officer_id")
        reason = f"主管 {by} 指定改派给 {target.name}" + (f"：{note}" if note else "")
        decision = Decision(officer_id, "manual", reason)
        routing = Routing(decision, (RuleOutcome("manual", True, reason, decision),))
        await store.claim(session, officer_id, ignore_capacity=True)
        return await self._move(
            uow,
            row,
            cause="manual",
            excluded=[e for e in excluded if e != officer_id],
            accepted_returns=row.accepted_returns,
            correlation_id=correlation_id,
            routing=routing,
        )

    # --- assisting officers (协办) --------------------------------------------------------------

    async def set_assistants(
        self,
        uow: UnitOfWork,
        appeal_id: UUID,
        *,
        by: str,
        officer_ids: Sequence[str],
        correlation_id: str,
    ) -> AssistantsChanged:
        session = uow.session
        row = await self._open_assignment(session, appeal_id)
        wanted = list(dict.fromkeys(officer_ids))
        if row.officer_id in wanted:
            raise UnknownOfficer(
                f"{row.officer_id} leads appeal {appeal_id}; a lead is not its own assistant",
                "officer_ids",
            )
        missing = [o for o in wanted if o not in await store.existing_officers(session, wanted)]
        if missing:
            raise UnknownOfficer(f"no such officers: {', '.join(missing)}", "officer_ids")
        changed_at = self.clock()
        await store.set_assistants(session, appeal_id, wanted, changed_at)
        event = AssistantsChanged(
            appeal_id=appeal_id,
            lead_officer_id=row.officer_id,
            assistant_officer_ids=wanted,
            changed_by=by,
            changed_at=changed_at,
        )
        await self._publish(uow, event, correlation_id)
        return event
