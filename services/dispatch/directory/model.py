"""The directory's model: who can handle appeals, and which enterprises each CSO serves;
departments and the categories they own; who holds the duty posts."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator, model_validator

from shared.clock import ZONE
from shared.credit_code import is_valid
from shared.vocabulary import Category, IndustryChain, OfficerRole

MAX_CAPACITY = 10_000  # most open appeals an officer may be given room for
MAX_LEAVE_PERIODS = 50

# How rosters and the demo name each industry chain (产业链).
CHAIN_LABELS_ZH: dict[IndustryChain, str] = {
    IndustryChain.NEV: "新能源汽车",
    IndustryChain.BIOMEDICINE: "生物医药",
    IndustryChain.FOOD_BEVERAGE: "食品饮料",
    IndustryChain.OTHER: "综合",
}


class LeavePeriod(BaseModel):
    """Days away, both ends included (dates in Asia/Shanghai)."""

    start: date
    end: date
    note: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _ordered(self) -> LeavePeriod:
        if self.end < self.start:
            raise ValueError(f"leave ends ({self.end}) before it starts ({self.start})")
        return self

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


# Leave periods are calendar days in the zone's own time.


def local_today(now: datetime | None = None) -> date:
    """Today in Asia/Shanghai (what a leave period's days are counted in)."""
    return (now or datetime.now(ZONE)).astimezone(ZONE).date()


def on_leave(leave: list[LeavePeriod], day: date) -> bool:
    return any(period.covers(day) for period in leave)


class Officer(BaseModel):
    officer_id: str
    name: str
    phone: str
    email: str
    role: OfficerRole
    unit: str
    on_duty: bool = True
    capacity: int = 30  # most open appeals the officer may hold at once
    categories: list[Category] = []
    communities: list[str] = []
    supervisor_id: str | None = None
    # A CSO's party-building assistant, and for an assistant, their CSO.
    paired_officer_id: str | None = None
    leave: list[LeavePeriod] = []
    department_id: str | None = None  # a department officer's department
    chain: IndustryChain | None = None  # member of that industry chain's service team (专班)


class Enterprise(BaseModel):
    credit_code: str
    name: str
    chain: IndustryChain
    community: str
    cso_officer_id: str | None = None  # None until a CSO is assigned ("挂点")

    @field_validator("credit_code", mode="before")
    @classmethod
    def _normalise_credit_code(cls, value: object) -> object:
        # Codes are often typed in lower case or pasted with spaces; the checksum needs upper case.
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("credit_code")
    @classmethod
    def _check_credit_code(cls, value: str) -> str:
        if not is_valid(value):
            raise ValueError(
                f"credit_code {value!r} is not a valid unified social credit code (GB 32100-2015)"
            )
        return value


class Department(BaseModel):
    """A department and the categories it owns (e.g. `employment` → 人社局); its officers are
    the officers whose `department_id` names it."""

    department_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    categories: list[Category] = []
    supervisor_id: str | None = None


class DutyPost(StrEnum):
    DISPATCHER = "dispatcher"  # rules on returns (退单)
    SUPERVISOR = "supervisor"  # takes what no rule can route (triage) and the twice-returned


class Directory(BaseModel):
    officers: list[Officer]
    enterprises: list[Enterprise]
    departments: list[Department] = []
    duty: dict[DutyPost, str] = {}  # post → officer id
