"""Intake's events: the unified stream (`appeals.immediate`), CSOs' visits (`visits.logged`),
call-back results (`appeals.follow-ups`) and the receipts adapters read
(`appeals.inbound.receipts`)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.base import Event
from shared.topics import (
    APPEALS_FOLLOW_UPS,
    APPEALS_IMMEDIATE,
    INBOUND_RECEIPTS,
    VISITS_LOGGED,
)
from shared.vocabulary import (
    AppealType,
    Category,
    Channel,
    Satisfaction,
    Urgency,
)


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
