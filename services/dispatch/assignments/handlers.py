"""Dispatch's consumers: every received appeal is routed to one officer; from the lifecycle,
closures free capacity and officers' returns and tracking's reassignment requests move appeals.
Each handler hands the event to the ownership decisions inside the consumer's unit of work."""

from __future__ import annotations

from collections.abc import Callable

from services.dispatch.assignments.service import Ownership
from shared.consumer import Prepare, Route
from shared.envelope import Envelope
from shared.events import (
    AppealReceived,
    AppealStatusChanged,
    ReassignmentRequested,
    ReturnRequested,
)
from shared.unit_of_work import UnitOfWork
from shared.vocabulary import AppealStatus

# The ownership decisions inside a unit of work (the composition root makes them).
OwnershipIn = Callable[[UnitOfWork], Ownership]


def prepare_appeals(ownership_in: OwnershipIn) -> Prepare:
    """Loads what a batch's received appeals need, once for the batch (Ownership.prepare)."""

    async def prepare(uow: UnitOfWork, batch: list[tuple[Envelope, object]]) -> None:
        received = [event for _, event in batch if isinstance(event, AppealReceived)]
        if received:
            await ownership_in(uow).prepare(received)

    return prepare


def appeal_routes(ownership_in: OwnershipIn) -> dict[str, Route]:
    async def on_appeal_received(
        uow: UnitOfWork, envelope: Envelope, event: AppealReceived
    ) -> None:
        await ownership_in(uow).assign(event, envelope.correlation_id)

    return {AppealReceived.TYPE: Route(AppealReceived, on_appeal_received)}


def lifecycle_routes(ownership_in: OwnershipIn) -> dict[str, Route]:
    async def on_status_changed(
        uow: UnitOfWork, _envelope: Envelope, event: AppealStatusChanged
    ) -> None:
        if event.to_status is AppealStatus.CLOSED:
            await ownership_in(uow).close(event.appeal_id)

    async def on_return_requested(
        uow: UnitOfWork, envelope: Envelope, event: ReturnRequested
    ) -> None:
        await ownership_in(uow).request_return(
            appeal_id=event.appeal_id,
            officer_id=event.officer_id,
            reason_code=event.reason_code,
            reason=event.reason,
            correlation_id=envelope.correlation_id,
        )

    async def on_reassignment_requested(
        uow: UnitOfWork, envelope: Envelope, event: ReassignmentRequested
    ) -> None:
        await ownership_in(uow).request_reassignment(
            appeal_id=event.appeal_id,
            exclude_officer_ids=event.exclude_officer_ids,
            correlation_id=envelope.correlation_id,
        )

    return {
        AppealStatusChanged.TYPE: Route(AppealStatusChanged, on_status_changed),
        ReturnRequested.TYPE: Route(ReturnRequested, on_return_requested),
        ReassignmentRequested.TYPE: Route(ReassignmentRequested, on_reassignment_requested),
    }
