"""Chief service officers' monthly rules (`cso.monthly`): the five ones' reminder and the four
proposed to report."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import AwareDatetime

from shared.events.base import Event
from shared.topics import (
    CSO_MONTHLY,
)


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
