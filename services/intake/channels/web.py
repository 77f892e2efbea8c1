"""The public web site and the mini-program: a person or an enterprise fills in a form.

The client generates the form's `external_id` (a UUID) once and resends it with every retry,
so a double tap or a flaky network never files the same appeal twice.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from services.intake.submissions.form import (
    MAX_ATTACHMENTS,
    Address,
    AppealSubmission,
    AppellantIn,
    Attachment,
    Community,
    Content,
    LocationIn,
    Name,
    OptionalCreditCode,
    OptionalPhone,
    not_future_in_context,
)
from shared.vocabulary import AppealType, Category, Channel


class AppellantKind(StrEnum):
    PERSON = "person"
    ENTERPRISE = "enterprise"


_ANONYMOUS = "an anonymous form gives no name, phone or credit code (no follow-up is possible)"


class WebForm(BaseModel):
    """The form as the web site or mini-program posts it. No urgency field: the public choose
    what their appeal is about, not its priority (classification decides that)."""

    model_config = ConfigDict(extra="forbid")  # our own form: an unknown field is a bug

    external_id: UUID
    appellant_kind: AppellantKind = AppellantKind.PERSON
    anonymous: bool = False
    name: Name = None
    phone: OptionalPhone = None
    enterprise_credit_code: OptionalCreditCode = Field(default=None, validate_default=True)
    content: Content
    address: Address = None
    community: Community = None
    type: AppealType | None = None
    category: Category | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    submitted_at: AwareDatetime | None = None

    @field_validator("name", "phone")
    @classmethod
    def _nobody_when_anonymous(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("anonymous"):
            raise ValueError(_ANONYMOUS)
        return value

    @field_validator("enterprise_credit_code")
    @classmethod
    def _credit_code_for_enterprises(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("appellant_kind")
        if value is not None and info.data.get("anonymous"):
            raise ValueError(_ANONYMOUS)
        if kind is AppellantKind.ENTERPRISE and value is None and not info.data.get("anonymous"):
            raise ValueError("an enterprise gives its unified social credit code")
        if kind is AppellantKind.PERSON and value is not None:
            raise ValueError("a person has no credit code: set appellant_kind to enterprise")
        return value

    @field_validator("submitted_at")
    @classmethod
    def _submitted_at(cls, value: Any, info: ValidationInfo) -> Any:
        return not_future_in_context(value, info)


def to_submission(form: WebForm) -> AppealSubmission:
    return AppealSubmission(
        channel=Channel.WEB,
        external_id=str(form.external_id),
        anonymous=form.anonymous,
        appellant=AppellantIn(
            name=form.name,
            phone=form.phone,
            enterprise_credit_code=form.enterprise_credit_code,
        ),
        content=form.content,
        location=LocationIn(address=form.address, community=form.community),
        type=form.type,
        category=form.category,
        attachments=form.attachments,
        submitted_at=form.submitted_at,
    )
