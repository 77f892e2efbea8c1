"""The unified appeal as channel adapters submit it, and the rules it must satisfy."""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.credit_code import is_valid as credit_code_is_valid
from shared.vocabulary import AppealStatus, AppealType, Category, Channel, Urgency

# Mainland mobile numbers, or landlines with an area code (0758-1234567).
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class AppellantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] | None = None
    phone: str | None = None
    enterprise_credit_code: str | None = None
    anonymous: bool = False

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.replace(" ", "")
        if not PHONE.match(value):
            raise ValueError("not a mainland mobile number or a landline with area code")
        return value

    @field_validator("enterprise_credit_code")
    @classmethod
    def _credit_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if not credit_code_is_valid(value):
            raise ValueError("not a valid unified social credit code (GB 32100-2015)")
        return value


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    community: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = (
        None
    )


class AppealSubmission(BaseModel):
    """`POST /v1/appeals`. (channel, external_id) identifies a submission: sending it again is
    harmless and answers with the appeal it created."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    external_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)
    ]
    appellant: AppellantIn = Field(default_factory=AppellantIn)
    content: Annotated[Text, StringConstraints(max_length=5000)]
    location: LocationIn = Field(default_factory=LocationIn)
    category: Category | None = None
    urgency: Urgency | None = None
    type: AppealType | None = None


class AppealAccepted(BaseModel):
    appeal_id: UUID
    tracking_code: str
    status: AppealStatus = AppealStatus.RECEIVED
