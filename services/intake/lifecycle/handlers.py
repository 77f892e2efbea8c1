"""Intake's consumer of appeals.lifecycle: it keeps each appeal's status (a follow-up result is
taken only while the appeal awaits one) and its closure (only appeals still open absorb a
repeated submission)."""

from __future__ import annotations

from services.intake.lifecycle import store
from shared.consumer import Route
from shared.envelope import Envelope
from shared.events import AppealStatusChanged
from shared.unit_of_work import UnitOfWork
from shared.vocabulary import AppealStatus


async def on_status_changed(
    uow: UnitOfWork, envelope: Envelope, event: AppealStatusChanged
) -> None:
    await store.record_status(uow.session, event.appeal_id, event.to_status, event.changed_at)
    if event.to_status == AppealStatus.CLOSED:
        await store.mark_closed(uow.session, event.appeal_id, event.changed_at)


def lifecycle_routes() -> dict[str, Route]:
    return {AppealStatusChanged.TYPE: Route(AppealStatusChanged, on_status_changed)}
