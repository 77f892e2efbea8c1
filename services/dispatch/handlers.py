"""Dispatch's consumers: every received appeal is routed to one officer."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import store
from services.dispatch.routing import RoutingContext, route
from shared.consumer import Route
from shared.envelope import Envelope, utcnow
from shared.events import AppealAssigned, AppealReceived
from shared.outbox import Outbox

log = logging.getLogger(__name__)

SERVICE = "dispatch"


def appeal_routes(outbox: Outbox) -> dict[str, Route]:
    async def on_appeal_received(
        session: AsyncSession, envelope: Envelope, event: AppealReceived
    ) -> None:
        if await store.assignment_of(session, event.appeal_id) is not None:
            return  # republished under a new event id: it already has its officer
        code = event.appellant.enterprise_credit_code
        enterprise, cso = (
            (None, None) if code is None else await store.enterprise_and_cso(session, code)
        )
        decision = route(
            RoutingContext(
                appeal_id=str(event.appeal_id),
                enterprise_credit_code=code,
                enterprise_name=None if enterprise is None else enterprise.name,
                cso=cso,
                officers_on_duty=await store.officers_on_duty(session),
            )
        )
        assigned_at = utcnow()
        await store.record_assignment(
            session,
            appeal_id=event.appeal_id,
            officer_id=decision.officer_id,
            reason_code=decision.reason_code,
            reason=decision.reason,
            assigned_at=assigned_at,
        )
        await outbox.put_event(
            session,
            AppealAssigned(
                appeal_id=event.appeal_id,
                officer_id=decision.officer_id,
                reason_code=decision.reason_code,
                reason=decision.reason,
                assigned_at=assigned_at,
                tracking_code=event.tracking_code,
            ),
            correlation_id=envelope.correlation_id,
            producer=SERVICE,
        )
        log.info(
            "appeal assigned",
            extra={
                "appeal_id": str(event.appeal_id),
                "officer_id": decision.officer_id,
                "reason_code": decision.reason_code,
            },
        )

    return {AppealReceived.TYPE: Route(AppealReceived, on_appeal_received)}
