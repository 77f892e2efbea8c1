"""The five ones' consumer: CSOs' visits that found no problem (`visits.logged`) count as
contacts with their enterprises. A plain upsert keyed by the visit, so a redelivery changes
nothing even past the inbox. (The enterprises and their CSOs come with the directory's changes:
directory/handlers.py.)"""

from __future__ import annotations

from services.tracking.five_ones import store
from shared.consumer import Route
from shared.envelope import Envelope
from shared.events import VisitLogged
from shared.unit_of_work import UnitOfWork


async def on_visit(uow: UnitOfWork, envelope: Envelope, event: VisitLogged) -> None:
    await store.record_visit(
        uow.session,
        visit_id=event.visit_id,
        officer_id=event.officer_id,
        credit_code=event.enterprise_credit_code,
        visited_at=event.visited_at,
    )


def visit_routes() -> dict[str, Route]:
    return {VisitLogged.TYPE: Route(VisitLogged, on_visit)}
