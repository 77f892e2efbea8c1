"""The five ones' consumers: the directory's enterprises (who their CSO is) and CSOs' visits that
found no problem. Both are plain upserts keyed by the fact itself, so a redelivery changes
nothing even past the inbox."""

from __future__ import annotations

from services.tracking import five_ones_store
from shared.consumer import Route
from shared.envelope import Envelope
from shared.events import EnterpriseChanged, VisitLogged
from shared.unit_of_work import UnitOfWork


def directory_routes() -> dict[str, Route]:
    """Merged into tracking's directory.changes consumer with handlers.directory_routes()."""

    async def on_enterprise(uow: UnitOfWork, envelope: Envelope, event: EnterpriseChanged) -> None:
        await five_ones_store.save_enterprise(
            uow.session,
            credit_code=event.credit_code,
            name=event.name,
            community=event.community,
            cso_officer_id=event.cso_officer_id,
            # When the directory changed it, not when tracking heard: orders late arrivals.
            changed_at=envelope.occurred_at,
        )

    return {EnterpriseChanged.TYPE: Route(EnterpriseChanged, on_enterprise)}


def visit_routes() -> dict[str, Route]:
    async def on_visit(uow: UnitOfWork, envelope: Envelope, event: VisitLogged) -> None:
        await five_ones_store.record_visit(
            uow.session,
            visit_id=event.visit_id,
            officer_id=event.officer_id,
            credit_code=event.enterprise_credit_code,
            visited_at=event.visited_at,
        )

    return {VisitLogged.TYPE: Route(VisitLogged, on_visit)}
