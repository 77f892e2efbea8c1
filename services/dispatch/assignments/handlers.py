"""Dispatch's consumers: every received appeal is routed to one officer; from the lifecycle,
closures free capacity and officers' returns and tracking's reassignment requests move appeals."""

from __future__ import annotations

from services.dispatch.assignments.service import Ownership
from shared.consumer import Route
from shared.envelope import Envelope
from shared.events import (
    AppealReceived,
    AppealStatusChanged,
    ReassignmentRequested,
    ReturnRequested,
)
from shared.unit_of_work import UnitOfWork
from shared.vocabulary import AppealStatus


def appeal_routes(ownership: Ownership) -> dict[str, Route]:
    async def on_appeal_received(
        uow: UnitOfWork, envelope: Envelope, event: AppealReceived
    ) -> None:
        await ownership.assign(uow, event, envelope.correlation_id)

    return {AppealReceived.TYPE: Route(AppealReceived, on_appeal_received)}


def lifecycle_routes(ownership: Ownership) -> dict[str, Route]:
    async def on_status_changed(
        uow: UnitOfWork, _envelope: Envelope, event: AppealStatusChanged
    ) -> None:
        if event.to_status is AppealStatus.CLOSED:
            await ownership.close(uow.session, event.appeal_id)

    async def on_return_requested(
        uow: UnitOfWork, envelope: Envelope, event: ReturnRequested
    ) -> None:
        await ownership.request_return(
            uow,
            appeal_id=event.appeal_id,
            officer_id=event.officer_id,
            reason_code=event.reason_code,
            reason=event.reason,
            correlation_id=envelope.correlation_id,
        )

    async def on_reassignment_requested(
        uow: UnitOfWork, envelope: Envelope, event: ReassignmentRequested
    ) -> None:
        await ownership.request_reassignment(
            uow,
            appeal_id=event.appeal_id,
            exclude_officer_ids=event.exclude_officer_ids,
            correlation_id=envelope.correlation_id,
        )

    return {
        AppealStatusChanged.TYPE: Route(AppealStatusChanged, on_status_changed),
        ReturnRequested.TYPE: Route(ReturnRequested, on_return_requested),
        ReassignmentRequested.TYPE: Route(ReassignmentRequested, on_reassignment_requested),
    }
