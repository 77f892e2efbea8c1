"""Who among the console's people hears of an event at once on an open page (pure)."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel

from shared.events import (
    AcknowledgementReminder,
    AppealReassigned,
    AppealStatusChanged,
    AssistantsChanged,
    DeadlineOverdue,
    DeadlineWarning,
    Event,
    ExtensionDecided,
    ReturnDecided,
)
from shared.vocabulary import AppealStatus


class LiveNotice(BaseModel):
    """One line on someone's open page. `officer_id` hears it; with `unit`, so do the
    supervisors and dispatchers of that unit (the 催办 of an overdue appeal, say)."""

    kind: str
    appeal_id: UUID
    tracking_code: str | None = None
    officer_id: str | None = None
    unit: str | None = None
    detail: str = ""


def notices_of(event: Event) -> list[LiveNotice]:
    match event:
        case AppealStatusChanged(to_status=AppealStatus.ASSIGNED, officer_id=str(officer)) if (
            event.from_status in (None, AppealStatus.RECEIVED)
        ):
            # A first assignment, as tracking applied it (not dispatch's AppealAssigned, which
            # can come before tracking has it): the page's queue, read from tracking, has it.
            return [
                LiveNotice(
                    kind="assigned",
                    appeal_id=event.appeal_id,
                    tracking_code=event.tracking_code,
                    officer_id=officer,
                )
            ]
        case AppealReassigned():
            return [
                LiveNotice(
                    kind="assigned",
                    appeal_id=event.appeal_id,
                    tracking_code=event.tracking_code,
                    officer_id=event.officer_id,
                ),
                LiveNotice(
                    kind="reassigned_away",
                    appeal_id=event.appeal_id,
                    tracking_code=event.tracking_code,
                    officer_id=event.from_officer_id,
                ),
            ]
        case AssistantsChanged():
            return [
                LiveNotice(kind="assisting", appeal_id=event.appeal_id, officer_id=officer)
                for officer in event.assistant_officer_ids
            ]
        case ReturnDecided():
            return [
                LiveNotice(
                    kind="return_accepted" if event.decision == "accept" else "return_rejected",
                    appeal_id=event.appeal_id,
                    officer_id=event.officer_id,
                    detail=event.note,
                )
            ]
        case ExtensionDecided():
            kind = "extension_granted" if event.decision == "grant" else "extension_refused"
            return [
                LiveNotice(
                    kind=kind,
                    appeal_id=event.appeal_id,
                    officer_id=event.officer_id,
                    detail=event.note,
                )
            ]
        case DeadlineOverdue():
            return [
                LiveNotice(
                    kind="urged",
                    appeal_id=event.appeal_id,
                    tracking_code=event.tracking_code,
                    officer_id=event.officer_id,
                    unit=event.unit,
                    detail=event.stage,
                )
            ]
        case DeadlineWarning() | AcknowledgementReminder():
            return [
                LiveNotice(
                    kind="due_soon",
                    appeal_id=event.appeal_id,
                    tracking_code=event.tracking_code,
                    officer_id=event.officer_id,
                    detail=event.stage,
                )
            ]
    return []


# Every kind a notice can have: the catalogues translate each.
KINDS = (
    "assigned",
    "reassigned_away",
    "assisting",
    "return_accepted",
    "return_rejected",
    "extension_granted",
    "extension_refused",
    "urged",
    "due_soon",
)
