"""Dispatch's decisions on who owns an appeal (`appeals.assignments`)."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime

from shared.events.base import Event
from shared.topics import (
    APPEALS_ASSIGNMENTS,
)


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
