"""Every event model (the envelope's payload), registered by type name.

Commands would be named as orders; these are facts, named in the past tense."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.envelope import Envelope
from shared.topics import (
    APPEALS_ASSIGNMENTS,
    APPEALS_DEADLINES,
    APPEALS_FOLLOW_UPS,
    APPEALS_IMMEDIATE,
    APPEALS_LIFECYCLE,
    CSO_MONTHLY,
    DIRECTORY_CHANGES,
    INBOUND_RECEIPTS,
    NOTIFICATIONS_SENT,
    VISITS_LOGGED,
)
from shared.vocabulary import (
    AppealStatus,
    AppealType,
    Category,
    Channel,
    IndustryChain,
    Medium,
    OfficerRole,
    Satisfaction,
    Urgency,
)

EVENT_TYPES: dict[str, type[Event]] = {}


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A base that only shares fields (no TYPE of its own) is not an event type.
        if "TYPE" in cls.__dict__:
            EVENT_TYPES[cls.TYPE] = cls

    def subject(self) -> str:
        raise NotImplementedError

    def envelope(self, *, correlation_id: str, producer: str) -> Envelope:
        return Envelope(
            type=self.TYPE,
            version=self.VERSION,
            subject_id=self.subject(),
            correlation_id=correlation_id,
            producer=producer,
            payload=self.model_dump(mode="json"),
        )


# --- appeals -----------------------------------------------------------------------------------


class Appellant(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str | None = None
    phone: str | None = None
    enterprise_credit_code: str | None = None
    enterprise_name: str | None = None  # when given without the code
    anonymous: bool = False


class Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str | None = None
    community: str | None = None


class Attachment(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    media_type: str
    name: str | None = None


class AppealReceived(Event):
    TYPE: ClassVar[str] = "AppealReceived"
    TOPIC: ClassVar[str] = APPEALS_IMMEDIATE

    appeal_id: UUID
    tracking_code: str
    channel: Channel
    external_id: str
    appellant: Appellant
    content: str
    location: Location = Location()
    category: Category | None = None
    urgency: Urgency = Urgency.NORMAL
    appeal_type: AppealType | None = None
    received_at: AwareDatetime
    # Which source decided each of type / category / urgency: `channel:<code>`, `submitter`,
    # `rule:<name>` or `default` (classification.py), so a supervisor can see why.
    classified_by: dict[str, str] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list)
    # When the channel took it (a hotline operator, a window clerk); received_at is intake's.
    submitted_at: AwareDatetime | None = None
    # Staff who filed it for the appellant (a CSO on a visit, a window clerk).
    filed_by: str | None = None

    def subject(self) -> str:
        return str(self.appeal_id)


class AppealMerged(Event):
    """A new submission that repeats an appeal still open joined it instead of creating new
    work. Same topic and key as AppealReceived, so it never overtakes the appeal it joins."""

    TYPE: ClassVar[str] = "AppealMerged"
    TOPIC: ClassVar[str] = APPEALS_IMMEDIATE

    appeal_id: UUID
    tracking_code: str
    channel: Channel
    external_id: str
    appellant: Appellant
    content: str
    merged_at: AwareDatetime
    score: float
    reason: str

    def subject(self) -> str:
        return str(self.appeal_id)


class VisitLogged(Event):
    """A chief service officer's visit to an enterprise that found no problem (no appeal)."""

    TYPE: ClassVar[str] = "VisitLogged"
    TOPIC: ClassVar[str] = VISITS_LOGGED

    visit_id: str
    officer_id: str
    enterprise_credit_code: str
    visited_at: AwareDatetime
    note: str | None = None

    def subject(self) -> str:
        return self.enterprise_credit_code


class FollowUpRecorded(Event):
    """The result of calling the appellant back (回访), reported by a channel (the 12345 hotline
    calls back whatever channel an appeal came by)."""

    TYPE: ClassVar[str] = "FollowUpRecorded"
    TOPIC: ClassVar[str] = APPEALS_FOLLOW_UPS

    appeal_id: UUID
    channel: Channel
    contacted: bool
    solved: bool
    satisfaction: Satisfaction
    note: str | None = None
    recorded_at: AwareDatetime

    def subject(self) -> str:
        return str(self.appeal_id)


class AppealAssigned(Event):
    TYPE: ClassVar[str] = "AppealAssigned"
    TOPIC: ClassVar[str] = APPEALS_ASSIGNMENTS

    appeal_id: UUID
    officer_id: str
    reason_code: str
    reason: str
    assigned_at: AwareDatetime
    # Carried along so consumers need not wait for AppealReceived to say who it concerns.
    tracking_code: str | None = None
    # An enterprise's appeal: the enterprise, and its CSO's party-building assistant (copied
    # in by notify). Optional: earlier events lack them.
    enterprise_credit_code: str | None = None
    cso_assistant_id: str | None = None

    def subject(self) -> str:
        return str(self.appeal_id)


class AppealReassigned(Event):
    """Dispatch moved an appeal to another officer: a return it accepted, a reassignment tracking
    asked for (not acknowledged in time, officer on leave) or a supervisor's decision."""

    TYPE: ClassVar[str] = "AppealReassigned"
    TOPIC: ClassVar[str] = APPEALS_ASSIGNMENTS

    appeal_id: UUID
    from_officer_id: str
    officer_id: str
    reason_code: str  # the routing rule that picked the new officer (`department`, `triage`, …)
    reason: str
    cause: Literal["return", "reassignment_request", "manual"]
    reassigned_at: AwareDatetime
    tracking_code: str | None = None

    def subject(self) -> str:
        return str(self.appeal_id)


class ReturnDecided(Event):
    """The duty dispatcher's ruling on a return (退单), or dispatch's own when it accepted a
    `not_my_area` return because the rules clearly found another owner."""

    TYPE: ClassVar[str] = "ReturnDecided"
    TOPIC: ClassVar[str] = APPEALS_ASSIGNMENTS

    appeal_id: UUID
    officer_id: str  # who asked to give it back
    decision: Literal["accept", "reject"]
    decided_by: str  # the dispatcher's id, or `dispatch` when automatic
    automatic: bool = False
    note: str = ""
    decided_at: AwareDatetime

    def subject(self) -> str:
        return str(self.appeal_id)


class AssistantsChanged(Event):
    """Assisting officers (协办) of an appeal; the lead stays responsible for the deadline."""

    TYPE: ClassVar[str] = "AssistantsChanged"
    TOPIC: ClassVar[str] = APPEALS_ASSIGNMENTS

    appeal_id: UUID
    lead_officer_id: str
    assistant_officer_ids: list[str]
    changed_by: str
    changed_at: AwareDatetime

    def subject(self) -> str:
        return str(self.appeal_id)


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


# --- deadlines (tracking's clock) ----------------------------------------------------------


class _DeadlineEvent(Event):
    TOPIC: ClassVar[str] = APPEALS_DEADLINES

    appeal_id: UUID
    stage: str  # acknowledge, first_contact, resolve
    officer_id: str | None
    supervisor_id: str | None = None
    unit: str | None = None
    due_at: AwareDatetime
    rule: str  # which limit applied, e.g. "complaint: 15 working days"
    fired_at: AwareDatetime
    tracking_code: str | None = None

    def subject(self) -> str:
        return str(self.appeal_id)


class AcknowledgementReminder(_DeadlineEvent):
    """Not yet acknowledged (签收): a reminder to the officer."""

    TYPE: ClassVar[str] = "AcknowledgementReminder"
    reminder_number: int


class DeadlineWarning(_DeadlineEvent):
    """80 % of a limit has passed and the stage is not done."""

    TYPE: ClassVar[str] = "DeadlineWarning"


class DeadlineOverdue(_DeadlineEvent):
    """The limit has passed: an urging notice (催办) to the officer and escalation to their
    supervisor."""

    TYPE: ClassVar[str] = "DeadlineOverdue"


class PublicNoticeIssued(_DeadlineEvent):
    """Still overdue some working days after the limit: a public notice (通报) to the unit's
    leadership."""

    TYPE: ClassVar[str] = "PublicNoticeIssued"
    overdue_working_days: int


# --- chief service officers' monthly rules -------------------------------------------------


class FiveOnesReminder(Event):
    """A few days before month end: the enterprises a CSO has not contacted this month."""

    TYPE: ClassVar[str] = "FiveOnesReminder"
    TOPIC: ClassVar[str] = CSO_MONTHLY

    officer_id: str
    month: str  # 2026-11
    uncontacted_credit_codes: list[str]
    enterprises_total: int
    problems_solved: int
    month_ends_on: date

    def subject(self) -> str:
        return self.officer_id


class CsoReportersProposed(Event):
    """The four CSOs proposed to report to the zone's party committee this month."""

    TYPE: ClassVar[str] = "CsoReportersProposed"
    TOPIC: ClassVar[str] = CSO_MONTHLY

    month: str
    officer_ids: list[str]
    proposed_at: AwareDatetime

    def subject(self) -> str:
        return f"cso-report:{self.month}"


class SubmissionReceipt(Event):
    """Intake's answer to a submission that came over an inbound topic, so the adapter learns
    the outcome: received / merged (appeal id and tracking code), visit_logged, or rejected
    (with the errors, each naming the field of the adapter's own payload)."""

    TYPE: ClassVar[str] = "SubmissionReceipt"
    TOPIC: ClassVar[str] = INBOUND_RECEIPTS

    channel: Channel
    external_id: str | None
    status: Literal["received", "merged", "visit_logged", "rejected"]
    appeal_id: UUID | None = None
    tracking_code: str | None = None
    visit_id: str | None = None
    reason: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)
    # Where the submission was read from, for an adapter that sent no usable external id.
    source_offset: str | None = None

    def subject(self) -> str:
        if self.appeal_id is not None:
            return str(self.appeal_id)
        return f"{self.channel}/{self.external_id or self.source_offset}"


# --- notifications -----------------------------------------------------------------------------


class _NotificationEvent(Event):
    TOPIC: ClassVar[str] = NOTIFICATIONS_SENT

    notification_id: UUID
    # Every notification so far is about an appeal; one that is not is keyed by its own id.
    appeal_id: UUID | None
    recipient: str
    medium: Medium
    kind: str

    def subject(self) -> str:
        return str(self.appeal_id or self.notification_id)


class NotificationSent(_NotificationEvent):
    """A notification left through its medium's provider (recorded, for the `record` medium).
    Published by notify's delivery worker in the transaction that marks it sent."""

    TYPE: ClassVar[str] = "NotificationSent"

    sent_at: AwareDatetime


class NotificationFailed(_NotificationEvent):
    """A notification gave up: its provider refused it, or every retry failed. Ops can resend
    it (`POST /v1/notifications/{id}/resend` on notify); supervisors see who was not told."""

    TYPE: ClassVar[str] = "NotificationFailed"

    attempts: int
    error: str
    failed_at: AwareDatetime


# --- directory ---------------------------------------------------------------------------------


class LeaveDays(BaseModel):
    start: date
    end: date  # included
    note: str = ""


class OfficerChanged(Event):
    TYPE: ClassVar[str] = "OfficerChanged"
    TOPIC: ClassVar[str] = DIRECTORY_CHANGES

    officer_id: str
    name: str
    role: OfficerRole
    unit: str
    on_duty: bool
    supervisor_id: str | None = None
    paired_officer_id: str | None = None
    # Contact details travel so notify can keep its own copy; they never reach a log line.
    phone: str | None = None
    email: str | None = None
    categories: list[Category] = Field(default_factory=list)
    communities: list[str] = Field(default_factory=list)
    leave: list[LeaveDays] = Field(default_factory=list)
    department_id: str | None = None
    chain: IndustryChain | None = None

    def subject(self) -> str:
        return self.officer_id


class EnterpriseChanged(Event):
    TYPE: ClassVar[str] = "EnterpriseChanged"
    TOPIC: ClassVar[str] = DIRECTORY_CHANGES

    credit_code: str
    name: str
    chain: IndustryChain
    community: str
    cso_officer_id: str | None

    def subject(self) -> str:
        return self.credit_code


class DepartmentChanged(Event):
    TYPE: ClassVar[str] = "DepartmentChanged"
    TOPIC: ClassVar[str] = DIRECTORY_CHANGES

    department_id: str
    name: str
    categories: list[Category]
    supervisor_id: str | None = None

    def subject(self) -> str:
        return self.department_id


class DutyChanged(Event):
    """Who now holds a duty post (`dispatcher`, `supervisor`)."""

    TYPE: ClassVar[str] = "DutyChanged"
    TOPIC: ClassVar[str] = DIRECTORY_CHANGES

    post: str
    officer_id: str

    def subject(self) -> str:
        return f"duty:{self.post}"
