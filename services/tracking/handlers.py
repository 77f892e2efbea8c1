"""Tracking's consumers. Everything that moves an appeal goes through the workflow (and so the
lifecycle): dispatch's assignments, reassignments and rulings on returns, and the call-back's
results; the rest (receipt, repeats, assistants) folds into the record and its history. The
directory's officer changes keep tracking's own copy of who is in which unit."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from prometheus_client import Counter

from services.tracking import store
from services.tracking.lifecycle import Action, Assign, FollowUp, Refused, ReturnRejected
from services.tracking.projection import (
    apply_assigned,
    apply_assistants,
    apply_merged,
    apply_reassigned,
    apply_received,
    apply_return_decided,
)
from services.tracking.workflow import AppealWorkflow, Project
from shared.consumer import Route
from shared.envelope import Envelope
from shared.events import (
    AppealAssigned,
    AppealMerged,
    AppealReassigned,
    AppealReceived,
    AppealStatusChanged,
    AssistantsChanged,
    FollowUpRecorded,
    OfficerChanged,
    ReturnDecided,
)
from shared.unit_of_work import UnitOfWork
from shared.vocabulary import AppealStatus

log = logging.getLogger(__name__)

UNKNOWN_FOLLOW_UPS = Counter(
    "jiban_tracking_unknown_follow_ups_total", "Follow-up results for appeals tracking never saw"
)


async def _act_or_note(
    workflow: AppealWorkflow,
    uow: UnitOfWork,
    envelope: Envelope,
    appeal_id: UUID,
    action: Action,
    *,
    at: datetime,
    kind: str,
    note: str,
    project: Project,
) -> None:
    """An event another service or the call-back reports is a fact: if the lifecycle refuses
    it (an assignment of an appeal already closed, a follow-up of one not resolved), the
    appeal does not move, but the history says what came and why it changed nothing."""
    locked = await store.lock_appeal(uow.session, appeal_id)
    try:
        await workflow.act(
            uow,
            appeal_id,
            action,
            at=at,
            event_id=envelope.event_id,
            correlation_id=envelope.correlation_id,
            kind=kind,
            note=note,
            project=project,
            locked=locked,
        )
    except Refused as refused:
        log.warning(
            "event refused by the lifecycle",
            extra={"appeal_id": str(appeal_id), "kind": kind, "reason": refused.reason},
        )
        await workflow.note(
            uow.session,
            appeal_id,
            event_id=envelope.event_id,
            at=at,
            kind=f"{kind}_refused",
            actor=action.by,
            note=f"{note} — {refused.reason}",
            project=project,
            locked=locked,
        )


def received_routes(workflow: AppealWorkflow) -> dict[str, Route]:
    async def on_received(uow: UnitOfWork, envelope: Envelope, event: AppealReceived) -> None:
        locked = await store.lock_appeal(uow.session, event.appeal_id)
        # The receipt heard for the first time, even after the assignment (another topic, so
        # it can come first): the lifecycle still announces (None → received), once.
        first = locked.record.received_at is None
        anonymous = event.appellant.anonymous
        locked = replace(locked, state=replace(locked.state, anonymous=anonymous))
        # The officer's deadlines, counted from the receipt (once: a replay finds them set).
        deadlines = []
        if locked.record.received_at is None:
            record = apply_received(locked.record, event)
            deadlines = workflow.schedule(record, event.received_at, anonymous=anonymous)
        due_at, due_stage = store.officer_due(deadlines)
        locked = await workflow.note(
            uow.session,
            event.appeal_id,
            event_id=envelope.event_id,
            at=envelope.occurred_at,
            kind="received",
            actor=f"channel:{event.channel}",
            note=None,
            project=partial(apply_received, event=event),
            locked=locked,
            status=AppealStatus.RECEIVED,
            **({"due_at": due_at, "due_stage": due_stage} if deadlines else {}),
        )
        if first:
            await workflow.publish(
                uow,
                AppealStatusChanged(
                    appeal_id=event.appeal_id,
                    from_status=None,
                    to_status=AppealStatus.RECEIVED,
                    changed_at=envelope.occurred_at,
                    changed_by=f"channel:{event.channel}",
                    tracking_code=event.tracking_code,
                ),
                correlation_id=envelope.correlation_id,
            )
        await workflow.set_deadlines(
            uow.session,
            event.appeal_id,
            deadlines,
            at=envelope.occurred_at,
            event_id=envelope.event_id,
            # Set at the moment of receipt, whatever has been heard since.
            status=AppealStatus.RECEIVED,
            why="deadlines",
        )

    async def on_merged(uow: UnitOfWork, envelope: Envelope, event: AppealMerged) -> None:
        await workflow.note(
            uow.session,
            event.appeal_id,
            event_id=envelope.event_id,
            at=envelope.occurred_at,
            kind="merged",
            actor=f"channel:{event.channel}",
            note=event.reason,
            project=partial(apply_merged, event=event),
            skip_if_unchanged=True,
        )

    # Both share appeals.immediate and its key (the appeal id), so one consumer takes them in
    # order: a merge never overtakes the appeal it joins.
    return {
        AppealReceived.TYPE: Route(AppealReceived, on_received),
        AppealMerged.TYPE: Route(AppealMerged, on_merged),
    }


def assignment_routes(workflow: AppealWorkflow) -> dict[str, Route]:
    async def assign(
        uow: UnitOfWork,
        envelope: Envelope,
        event: AppealAssigned | AppealReassigned,
        *,
        at: datetime,
        kind: str,
        note: str,
        project: Project,
    ) -> None:
        locked = await store.lock_appeal(uow.session, event.appeal_id)
        last = locked.record.assigned_at
        if last is not None and at < last:
            # An older assignment heard late (a replay): the newer one stands.
            log.info("stale assignment ignored", extra={"appeal_id": str(event.appeal_id)})
            return
        await _act_or_note(
            workflow,
            uow,
            envelope,
            event.appeal_id,
            Assign(officer_id=event.officer_id, note=note),
            # The history runs on the envelopes' times, as for every event tracking hears of.
            at=envelope.occurred_at,
            kind=kind,
            note=note,
            project=project,
        )

    async def on_assigned(uow: UnitOfWork, envelope: Envelope, event: AppealAssigned) -> None:
        await assign(
            uow,
            envelope,
            event,
            at=event.assigned_at,
            kind="assigned",
            note=f"派给 {event.officer_id}：{event.reason}",
            project=partial(apply_assigned, event=event),
        )

    async def on_reassigned(uow: UnitOfWork, envelope: Envelope, event: AppealReassigned) -> None:
        await assign(
            uow,
            envelope,
            event,
            at=event.reassigned_at,
            kind="reassigned",
            note=f"由 {event.from_officer_id} 改派给 {event.officer_id}：{event.reason}",
            project=partial(apply_reassigned, event=event),
        )

    async def on_assistants(uow: UnitOfWork, envelope: Envelope, event: AssistantsChanged) -> None:
        names = "、".join(event.assistant_officer_ids) or "无"
        await workflow.note(
            uow.session,
            event.appeal_id,
            event_id=envelope.event_id,
            at=envelope.occurred_at,
            kind="assistants_changed",
            actor=event.changed_by,
            note=f"协办：{names}",
            project=partial(apply_assistants, event=event),
        )

    async def on_return_decided(uow: UnitOfWork, envelope: Envelope, event: ReturnDecided) -> None:
        ruling = "同意" if event.decision == "accept" else "驳回"
        note = f"{event.officer_id} 的退单申请：{ruling}"
        if event.note:
            note += f"（{event.note}）"
        project = partial(apply_return_decided, event=event)
        if event.decision == "reject":
            await _act_or_note(
                workflow,
                uow,
                envelope,
                event.appeal_id,
                ReturnRejected(note=event.note, by=event.decided_by),
                at=event.decided_at,
                kind="return_decided",
                note=note,
                project=project,
            )
            return
        # Accepted: the move itself comes next as AppealReassigned (an Assign).
        await workflow.note(
            uow.session,
            event.appeal_id,
            event_id=envelope.event_id,
            at=event.decided_at,
            kind="return_decided",
            actor=event.decided_by,
            note=note,
            project=project,
        )

    # One topic, keyed by appeal id: one appeal's ownership moves arrive in the order dispatch
    # made them; against appeals.immediate, in either order (the projection converges).
    return {
        AppealAssigned.TYPE: Route(AppealAssigned, on_assigned),
        AppealReassigned.TYPE: Route(AppealReassigned, on_reassigned),
        AssistantsChanged.TYPE: Route(AssistantsChanged, on_assistants),
        ReturnDecided.TYPE: Route(ReturnDecided, on_return_decided),
    }


def follow_up_routes(workflow: AppealWorkflow) -> dict[str, Route]:
    """The call-back's results (回访), published by intake for the hotline."""

    async def on_follow_up(uow: UnitOfWork, envelope: Envelope, event: FollowUpRecorded) -> None:
        if not await store.appeal_known(uow.session, event.appeal_id):
            # A call-back can only follow a resolution tracking made, so this one is for an
            # appeal that does not exist here (a wrong id from the hotline): nothing to change,
            # and no record to make of an appeal nobody raised.
            log.warning(
                "follow-up for an unknown appeal", extra={"appeal_id": str(event.appeal_id)}
            )
            UNKNOWN_FOLLOW_UPS.inc()
            return
        said = f"回访：{'已解决' if event.solved else '未解决'}，{event.satisfaction}"
        await _act_or_note(
            workflow,
            uow,
            envelope,
            event.appeal_id,
            FollowUp(
                ref=str(envelope.event_id),
                contacted=event.contacted,
                solved=event.solved,
                satisfaction=event.satisfaction,
                note=event.note or "",
                by=f"channel:{event.channel}",
            ),
            at=event.recorded_at,
            kind="follow_up",
            note=f"{said}；{event.note}" if event.note else said,
            project=_unchanged,
        )

    return {FollowUpRecorded.TYPE: Route(FollowUpRecorded, on_follow_up)}


def _unchanged(record: Any) -> Any:
    return record


def directory_routes() -> dict[str, Route]:
    """Only officers matter here (who may read whose queue, whom to escalate to); enterprises
    are followed for the five ones (five_ones_handlers.py); the rest is skipped."""

    async def on_officer(uow: UnitOfWork, envelope: Envelope, event: OfficerChanged) -> None:
        await store.save_officer(
            uow.session,
            officer_id=event.officer_id,
            name=event.name,
            role=event.role.value,
            unit=event.unit,
            supervisor_id=event.supervisor_id,
            changed_at=envelope.occurred_at,
        )

    return {OfficerChanged.TYPE: Route(OfficerChanged, on_officer)}
