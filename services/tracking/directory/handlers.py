"""The directory's changes tracking follows: officers (units decide who may read whose queue;
supervisors are whom overdue appeals are escalated to) and enterprises with their CSOs (the five
ones). Both are upserts that keep the newest change, so a redelivery or a late arrival changes
nothing; the rest of `directory.changes` is skipped."""

from __future__ import annotations

from services.tracking.directory import store
from shared.consumer import Route
from shared.envelope import Envelope
from shared.events import EnterpriseChanged, OfficerChanged
from shared.unit_of_work import UnitOfWork


async def on_officer(uow: UnitOfWork, envelope: Envelope, event: OfficerChanged) -> None:
    await store.save_officer(
        uow.session,
        officer_id=event.officer_id,
        name=event.name,
        role=event.role.value,
        unit=event.unit,
        supervisor_id=event.supervisor_id,
        # When the directory changed it, not when tracking heard: orders late arrivals.
        changed_at=envelope.occurred_at,
    )


async def on_enterprise(uow: UnitOfWork, envelope: Envelope, event: EnterpriseChanged) -> None:
    await store.save_enterprise(
        uow.session,
        credit_code=event.credit_code,
        name=event.name,
        community=event.community,
        cso_officer_id=event.cso_officer_id,
        changed_at=envelope.occurred_at,
    )


def directory_routes() -> dict[str, Route]:
    return {
        OfficerChanged.TYPE: Route(OfficerChanged, on_officer),
        EnterpriseChanged.TYPE: Route(EnterpriseChanged, on_enterprise),
    }
