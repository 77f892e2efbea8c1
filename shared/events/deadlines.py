"""Tracking's clock (`appeals.deadlines`): what a deadline fires."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime

from shared.events.base import Event
from shared.topics import (
    APPEALS_DEADLINES,
)


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
