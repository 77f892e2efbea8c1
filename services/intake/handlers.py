"""Intake's consumer: it follows closures on appeals.lifecycle into its own view, so that only
appeals still open can absorb a repeated submission."""

from __future__ import annotations

from services.intake import store
from shared.consumer import Route
from shared.envelope import Envelope
from shared.events import AppealStatusChanged
from shared.unit_of_work import UnitOfWork
from shared.vocabulary import AppealStatus


def lifecycle_routes() -> dict[str, Route]:
    async def on_status_changed(
        uow: UnitOfWork, envelope: Envelope, event: AppealStatusChanged
    ) -> None:
        if event.to_status == AppealStatus.CLOSED:
            await store.mark_closed(uow.session, event.appeal_id, event.changed_at)

    return {AppealStatusChanged.TYPE: Route(AppealStatusChanged, on_status_changed)}
