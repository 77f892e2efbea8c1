"""Tracking's consumers: received, merged and assigned events fold into the appeal's record, and
so do dispatch's ownership moves (reassignments, assistants, rulings on returns); the
directory's officer changes keep tracking's own copy of who is in which unit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking import store
from services.tracking.projection import (
    AppealRecord,
    apply_assigned,
    apply_assistants,
    apply_merged,
    apply_reassigned,
    apply_received,
    apply_return_decided,
)
from shared.consumer import Route
from shared.envelope import Envelope
from shared.events import (
    AppealAssigned,
    AppealMerged,
    AppealReassigned,
    AppealReceived,
    AppealStatusChanged,
    AssistantsChanged,
    OfficerChanged,
    ReturnDecided,
)
from shared.outbox import Outbox
from shared.vocabulary import AppealStatus

SERVICE = "tracking"
# The history's column widths: a long reason or ruling note is cut, never a failed message.
ACTOR_CHARS = 100
NOTE_CHARS = 1000


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
        actor=actor[:ACTOR_CHARS],
        note=None if note is None else note[:NOTE_CHARS],
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

    async def on_reassigned(
        session: AsyncSession, envelope: Envelope, event: AppealReassigned
    ) -> None:
        await _fold(
            session,
            outbox,
            envelope,
            event,
            apply_reassigned,
            kind="reassigned",
            status=AppealStatus.ASSIGNED,
            actor="dispatch",
            note=f"由 {event.from_officer_id} 改派给 {event.officer_id}：{event.reason}",
        )

    async def on_assistants(
        session: AsyncSession, envelope: Envelope, event: AssistantsChanged
    ) -> None:
        names = "、".join(event.assistant_officer_ids) or "无"
        await _fold(
            session,
            outbox,
            envelope,
            event,
            apply_assistants,
            kind="assistants_changed",
            status=None,
            actor=event.changed_by,
            note=f"协办：{names}",
        )

    async def on_return_decided(
        session: AsyncSession, envelope: Envelope, event: ReturnDecided
    ) -> None:
        ruling = "同意" if event.decision == "accept" else "驳回"
        note = f"{event.officer_id} 的退单申请：{ruling}"
        if event.note:
            note += f"（{event.note}）"
        await _fold(
            session,
            outbox,
            envelope,
            event,
            apply_return_decided,
            kind="return_decided",
            status=None,
            actor=event.decided_by,
            note=note,
        )

    # One topic, keyed by appeal id: one appeal's ownership moves arrive in the order dispatch
    # made them; against appeals.immediate, in either order (the projection converges).
    return {
        AppealAssigned.TYPE: Route(AppealAssigned, on_assigned),
        AppealReassigned.TYPE: Route(AppealReassigned, on_reassigned),
        AssistantsChanged.TYPE: Route(AssistantsChanged, on_assistants),
        ReturnDecided.TYPE: Route(ReturnDecided, on_return_decided),
    }


def directory_routes() -> dict[str, Route]:
    """Only officers matter to tracking (who may read whose queue); enterprises, departments and
    duty posts are not routed, so the consumer skips them."""

    async def on_officer(session: AsyncSession, envelope: Envelope, event: OfficerChanged) -> None:
        await store.save_officer(
            session,
            officer_id=event.officer_id,
            name=event.name,
            role=event.role.value,
            unit=event.unit,
            supervisor_id=event.supervisor_id,
            changed_at=envelope.occurred_at,
        )

    return {OfficerChanged.TYPE: Route(OfficerChanged, on_officer)}
