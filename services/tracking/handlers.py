"""Tracking's consumers: received, merged and assigned events fold into the appeal's record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking import store
from services.tracking.projection import (
    AppealRecord,
    apply_assigned,
    apply_merged,
    apply_received,
)
from shared.consumer import Route
from shared.envelope import Envelope
from shared.events import AppealAssigned, AppealMerged, AppealReceived, AppealStatusChanged
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
    status: AppealStatus | None,
    actor: str,
    note: str | None,
    skip_if_unchanged: bool = False,
) -> None:
    """`status`: the one the history entry records; None for an event that changes no status
    (the entry then records where the appeal stands)."""
    before = await store.lock_record(session, event.appeal_id)
    after = apply(before, event)
    if skip_if_unchanged and after == before:
        # The same fact again under another event id (the inbox caught only the same id):
        # nothing happened, so nothing enters the history either.
        return
    await store.save_record(session, after)
    await store.append_history(
        session,
        appeal_id=event.appeal_id,
        event_id=envelope.event_id,
        kind=kind,
        status=status or after.status or AppealStatus.RECEIVED,
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

    async def on_merged(session: AsyncSession, envelope: Envelope, event: AppealMerged) -> None:
        await _fold(
            session,
            outbox,
            envelope,
            event,
            apply_merged,
            kind="merged",
            status=None,
            actor=f"channel:{event.channel}",
            note=event.reason,
            skip_if_unchanged=True,
        )

    # Both share appeals.immediate and its key (the appeal id), so one consumer takes them in
    # order: a merge never overtakes the appeal it joins.
    return {
        AppealReceived.TYPE: Route(AppealReceived, on_received),
        AppealMerged.TYPE: Route(AppealMerged, on_merged),
    }


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
