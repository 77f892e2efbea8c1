"""Intake's consumer of appeals.lifecycle: it keeps each appeal's status (a follow-up result is
taken only while the appeal awaits one) and its closure (only appeals still open absorb a
repeated submission). A batch's changes are written together when its unit of work ends."""

from __future__ import annotations

from services.intake.lifecycle.store import LifecycleChanges
from shared.consumer import Route
from shared.envelope import Envelope
from shared.events import AppealStatusChanged
from shared.unit_of_work import UnitOfWork


async def on_status_changed(
    uow: UnitOfWork, envelope: Envelope, event: AppealStatusChanged
) -> None:
    changes = uow.attached(LifecycleChanges, lambda: LifecycleChanges(uow.session))
    changes.record(event.appeal_id, event.to_status, event.changed_at)


def lifecycle_routes() -> dict[str, Route]:
    return {AppealStatusChanged.TYPE: Route(AppealStatusChanged, on_status_changed)}
