"""Notify's consumer of `directory.changes`: its copy of the officers' contacts and the
enterprises' CSOs (no notifications: a directory change tells nobody anything)."""

from __future__ import annotations

from services.notify.directory import store
from shared.consumer import Route
from shared.envelope import Envelope
from shared.events import EnterpriseChanged, OfficerChanged
from shared.unit_of_work import UnitOfWork


async def officer_changed(uow: UnitOfWork, envelope: Envelope, event: OfficerChanged) -> None:
    store.writes(uow).officer(
        envelope.occurred_at,
        officer_id=event.officer_id,
        name=event.name,
        role=event.role,
        unit=event.unit,
        supervisor_id=event.supervisor_id,
        paired_officer_id=event.paired_officer_id,
        phone=event.phone,
        email=event.email,
    )


async def enterprise_changed(uow: UnitOfWork, envelope: Envelope, event: EnterpriseChanged) -> None:
    store.writes(uow).enterprise(event.credit_code, event.cso_officer_id, envelope.occurred_at)


def routes() -> dict[str, dict[str, Route]]:
    return {
        OfficerChanged.TOPIC: {
            OfficerChanged.TYPE: Route(OfficerChanged, officer_changed),
            EnterpriseChanged.TYPE: Route(EnterpriseChanged, enterprise_changed),
        }
    }
