"""Who among the console's people hears of an event at once on an open page (pure)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol
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


class _AboutAnAppeal(Protocol):
    @property
    def appeal_id(self) -> UUID: ...


def _notice(
    event: _AboutAnAppeal, kind: str, officer_id: str | None, **more: str | None
) -> LiveNotice:
    return LiveNotice(
        kind=kind,
        appeal_id=event.appeal_id,
        # Not every event carries it; the page then shows the appeal's id.
        tracking_code=getattr(event, "tracking_code", None),
        officer_id=officer_id,
        **more,
    )


def _status_changed(event: AppealStatusChanged) -> list[LiveNotice]:
    # A first assignment, as tracking applied it (not dispatch's AppealAssigned, which can come
    # before tracking has it): the page's queue, read from tracking, has it.
    first = event.from_status in (None, AppealStatus.RECEIVED)
    if event.to_status == AppealStatus.ASSIGNED and first and event.officer_id:
        return [_notice(event, "assigned", event.officer_id)]
    return []


def _reassigned(event: AppealReassigned) -> list[LiveNotice]:
    return [
        _notice(event, "assigned", event.officer_id),
        _notice(event, "reassigned_away", event.from_officer_id),
    ]


def _assistants(event: AssistantsChanged) -> list[LiveNotice]:
    return [_notice(event, "assisting", officer) for officer in event.assistant_officer_ids]


def _return_decided(event: ReturnDecided) -> list[LiveNotice]:
    kind = "return_accepted" if event.decision == "accept" else "return_rejected"
    return [_notice(event, kind, event.officer_id, detail=event.note)]


def _extension_decided(event: ExtensionDecided) -> list[LiveNotice]:
    kind = "extension_granted" if event.decision == "grant" else "extension_refused"
    return [_notice(event, kind, event.officer_id, detail=event.note)]


def _overdue(event: DeadlineOverdue) -> list[LiveNotice]:
    # The 催办: the officer and their unit's supervisors and dispatchers hear it.
    return [_notice(event, "urged", event.officer_id, unit=event.unit, detail=event.stage)]


def _due_soon(event: DeadlineWarning | AcknowledgementReminder) -> list[LiveNotice]:
    return [_notice(event, "due_soon", event.officer_id, detail=event.stage)]


# The events the console hears, each with who hears what of it: the consumers subscribe to
# exactly these types (handlers.py), so the table and the subscriptions cannot drift apart.
HEARD: dict[type[Event], Callable[[Any], list[LiveNotice]]] = {
    AppealStatusChanged: _status_changed,
    AppealReassigned: _reassigned,
    AssistantsChanged: _assistants,
    ReturnDecided: _return_decided,
    ExtensionDecided: _extension_decided,
    DeadlineOverdue: _overdue,
    DeadlineWarning: _due_soon,
    AcknowledgementReminder: _due_soon,
}


def notices_of(event: Event) -> list[LiveNotice]:
    hears = HEARD.get(type(event))
    return [] if hears is None else hears(event)


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
