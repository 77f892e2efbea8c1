"""Tracking's consumers: received and assigned events fold into the appeal's record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking import store
from services.tracking.projection import AppealRecord, apply_assigned, apply_received
from shared.consumer import Route
from shared.envelope import Envelope
from shared.events import AppealAssigned, AppealReceived, AppealStatusChanged
from shared.outbox import Outbox
from shared.vocabulary import AppealStatus

SERVICE = "tracking"


async def _fold(
    session: AsyncSession,
    outbox: Outbox,
    envelope: Envelope,
    event: Any,
    apply: Callable[[AppealRecord, Any], AppealRecord],
    *,
    kind: str,
    status: AppealStatus,
    actor: str,
    note: str | None,
) -> None:
    before = await store.lock_record(session, event.appeal_id)
    after = apply(before, event)
    await store.save_record(session, after)
    await store.append_history(
        session,
        appeal_id=event.appeal_id,
        event_id=envelope.event_id,
        kind=kind,
        status=status,
        occurred_at=envelope.occurred_at,
        actor=actor,
        note=note,
    )
    if after.status is not None and after.status != before.status:
        await outbox.put_event(
            session,
            AppealStatusChanged(
                appeal_id=event.appeal_id,
                from_status=before.status,
                to_status=after.status,
                officer_id=after.officer_id,
                changed_at=envelope.occurred_at,
            ),
            correlation_id=envelope.correlation_id,
            producer=SERVICE,
        )


def received_routes(outbox: Outbox) -> dict[str, Route]:
    async def on_received(session: AsyncSession, envelope: Envelope, event: AppealReceived) -> None:
        await _fold(
            session,
            outbox,
            envelope,
            event,
            apply_received,
            kind="received",
            status=AppealStatus.RECEIVED,
            actor=f"channel:{event.channel}",
            note=None,
        )

    return {AppealReceived.TYPE: Route(AppealReceived, on_received)}


def assignment_routes(outbox: Outbox) -> dict[str, Route]:
    async def on_assigned(session: AsyncSession, envelope: Envelope, event: AppealAssigned) -> None:
        await _fold(
            session,
            outbox,
            envelope,
            event,
            apply_assigned,
            kind="assigned",
            status=AppealStatus.ASSIGNED,
            actor="dispatch",
            note=f"派给 {event.officer_id}：{event.reason}",
        )

    return {AppealAssigned.TYPE: Route(AppealAssigned, on_assigned)}
