"""Dispatch's directory: who can handle appeals, and which enterprises each CSO serves."""

from __future__ import annotations

from pydantic import BaseModel, field_validator

from shared.credit_code import is_valid
from shared.vocabulary import Category, IndustryChain, OfficerRole


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


class Directory(BaseModel):
    officers: list[Officer]
    enterprises: list[Enterprise]
