"""Tracking's lifecycle (`appeals.lifecycle`): status changes, escalation, extensions, the
unreasonable mark, and its requests to dispatch (returns, reassignment)."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.events.base import Event
from shared.topics import (
    APPEALS_LIFECYCLE,
)
from shared.vocabulary import AppealStatus, Channel


class ReturnRequested(Event):
    """An officer asks to give an appeal back (退单); dispatch's duty dispatcher rules on it.
    Tracking emits it from the officer's action."""

    TYPE: ClassVar[str] = "ReturnRequested"
    TOPIC: ClassVar[str] = APPEALS_LIFECYCLE

    appeal_id: UUID
    officer_id: str
    reason_code: str  # `not_my_area` may be accepted automatically
    reason: str

    def subject(self) -> str:
        return str(self.appeal_id)


class ReassignmentRequested(Event):
    """Tracking asks dispatch to move an appeal (not acknowledged in time, officer on leave)."""

    TYPE: ClassVar[str] = "ReassignmentRequested"
    TOPIC: ClassVar[str] = APPEALS_LIFECYCLE

    appeal_id: UUID
    reason_code: str
    exclude_officer_ids: list[str] = Field(default_factory=list)

    def subject(self) -> str:
        return str(self.appeal_id)


class AppealStatusChanged(Event):
    TYPE: ClassVar[str] = "AppealStatusChanged"
    TOPIC: ClassVar[str] = APPEALS_LIFECYCLE

    appeal_id: UUID
    from_status: AppealStatus | None
    to_status: AppealStatus
    officer_id: str | None = None
    changed_at: AwareDatetime
    # Who moved it (the officer's id, `dispatch` or a dispatcher's id, `channel:<code>` for a
    # follow-up, `tracking` for its clock) and what was said (the resolution, the reason, …).
    changed_by: str | None = None
    note: str | None = None
    # Set when to_status is closed: `resolved` (followed up) or `no_feedback` (window ran out).
    closed_reason: Literal["resolved", "no_feedback"] | None = None
    tracking_code: str | None = None

    def subject(self) -> str:
        return str(self.appeal_id)


class AppealEscalated(Event):
    """Someone above must look: reopened a second time (or more)."""

    TYPE: ClassVar[str] = "AppealEscalated"
    TOPIC: ClassVar[str] = APPEALS_LIFECYCLE

    appeal_id: UUID
    officer_id: str | None
    supervisor_id: str | None
    unit: str | None
    reason: Literal["reopened_again"]
    reopen_count: int
    escalated_at: AwareDatetime

    def subject(self) -> str:
        return str(self.appeal_id)


class ExtensionRequested(Event):
    """An officer asked for more time (延期); a dispatcher or supervisor rules on tracking."""

    TYPE: ClassVar[str] = "ExtensionRequested"
    TOPIC: ClassVar[str] = APPEALS_LIFECYCLE

    appeal_id: UUID
    extension_id: int
    officer_id: str
    supervisor_id: str | None = None
    stage: str
    working_days: int
    reason: str
    due_at: AwareDatetime
    requested_at: AwareDatetime

    def subject(self) -> str:
        return str(self.appeal_id)


class ExtensionDecided(Event):
    TYPE: ClassVar[str] = "ExtensionDecided"
    TOPIC: ClassVar[str] = APPEALS_LIFECYCLE

    appeal_id: UUID
    extension_id: int
    officer_id: str
    decision: Literal["grant", "refuse"]
    decided_by: str
    note: str = ""
    previous_due_at: AwareDatetime
    due_at: AwareDatetime  # the deadline now (moved when granted)
    decided_at: AwareDatetime

    def subject(self) -> str:
        return str(self.appeal_id)


class AppealMarkedUnreasonable(Event):
    """不合理诉求: judged unreasonable after review; left out of the rates."""

    TYPE: ClassVar[str] = "AppealMarkedUnreasonable"
    TOPIC: ClassVar[str] = APPEALS_LIFECYCLE

    appeal_id: UUID
    marked_by: str
    reason: str
    marked_at: AwareDatetime

    def subject(self) -> str:
        return str(self.appeal_id)


class ExtensionCancelled(Event):
    """A pending extension request (延期) that no longer applies, because the round it was asked
    for ended before anyone ruled on it: the appeal was resolved, moved to another officer or
    closed. Nobody may rule on it any more; whoever was asked to is told."""

    TYPE: ClassVar[str] = "ExtensionCancelled"
    TOPIC: ClassVar[str] = APPEALS_LIFECYCLE

    appeal_id: UUID
    extension_id: int
    officer_id: str  # who asked for it
    supervisor_id: str | None = None  # the requester's supervisor (asked to rule), if known
    reason: Literal["resolved", "reassigned", "closed"]
    cancelled_at: AwareDatetime
    tracking_code: str | None = None  # what the people told quote

    def subject(self) -> str:
        return str(self.appeal_id)


class FollowUpRefused(Event):
    """A call-back result (回访, `FollowUpRecorded`) that tracking did not apply: when it arrived
    the appeal was not awaiting a follow-up (intake answered 202 because it was, but the status
    changed in between). The channel that reported it hears why, in a signed status callback, so
    no call-back is lost without a word."""

    TYPE: ClassVar[str] = "FollowUpRefused"
    TOPIC: ClassVar[str] = APPEALS_LIFECYCLE

    appeal_id: UUID
    follow_up_event_id: UUID  # the FollowUpRecorded envelope's event id
    channel: Channel  # the channel that reported the result
    status: AppealStatus  # where the appeal stood when the result arrived
    reason: str
    refused_at: AwareDatetime
    tracking_code: str | None = None

    def subject(self) -> str:
        return str(self.appeal_id)
