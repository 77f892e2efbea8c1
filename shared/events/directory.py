"""Dispatch's directory (`directory.changes`): officers, enterprises, departments, duty posts."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import BaseModel, Field

from shared.events.base import Event
from shared.topics import (
    DIRECTORY_CHANGES,
)
from shared.vocabulary import (
    Category,
    IndustryChain,
    OfficerRole,
)


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
