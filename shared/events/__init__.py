"""Every event model (the envelope's payload), one module per topic family:

- `intake`: appeals.immediate, visits.logged, appeals.follow-ups, appeals.inbound.receipts
- `assignments`: appeals.assignments (dispatch)
- `directory`: directory.changes (dispatch)
- `lifecycle`: appeals.lifecycle (tracking)
- `deadlines`: appeals.deadlines (tracking)
- `monthly`: cso.monthly (tracking)
- `notifications`: notifications.sent (notify)

Import them from here: `from shared.events import AppealReceived`."""

from __future__ import annotations

from shared.events.assignments import (
    AppealAssigned,
    AppealReassigned,
    AssistantsChanged,
    ReturnDecided,
)
from shared.events.base import EVENT_TYPES, Event
from shared.events.deadlines import (
    AcknowledgementReminder,
    DeadlineOverdue,
    DeadlineWarning,
    PublicNoticeIssued,
)
from shared.events.directory import (
    DepartmentChanged,
    DutyChanged,
    EnterpriseChanged,
    LeaveDays,
    OfficerChanged,
)
from shared.events.intake import (
    AppealMerged,
    AppealReceived,
    Appellant,
    Attachment,
    FollowUpRecorded,
    Location,
    SubmissionReceipt,
    VisitLogged,
)
from shared.events.lifecycle import (
    AppealEscalated,
    AppealMarkedUnreasonable,
    AppealStatusChanged,
    ExtensionCancelled,
    ExtensionDecided,
    ExtensionRequested,
    FollowUpRefused,
    ReassignmentRequested,
    ReturnRequested,
)
from shared.events.monthly import CsoReportersProposed, FiveOnesReminder
from shared.events.notifications import NotificationFailed, NotificationSent

__all__ = [
    "EVENT_TYPES",
    "AcknowledgementReminder",
    "AppealAssigned",
    "AppealEscalated",
    "AppealMarkedUnreasonable",
    "AppealMerged",
    "AppealReassigned",
    "AppealReceived",
    "AppealStatusChanged",
    "Appellant",
    "AssistantsChanged",
    "Attachment",
    "CsoReportersProposed",
    "DeadlineOverdue",
    "DeadlineWarning",
    "DepartmentChanged",
    "DutyChanged",
    "EnterpriseChanged",
    "Event",
    "ExtensionCancelled",
    "ExtensionDecided",
    "ExtensionRequested",
    "FiveOnesReminder",
    "FollowUpRecorded",
    "FollowUpRefused",
    "LeaveDays",
    "Location",
    "NotificationFailed",
    "NotificationSent",
    "OfficerChanged",
    "PublicNoticeIssued",
    "ReassignmentRequested",
    "ReturnDecided",
    "ReturnRequested",
    "SubmissionReceipt",
    "VisitLogged",
]
