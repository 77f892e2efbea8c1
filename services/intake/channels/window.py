"""Convenience windows (便民窗口): staff record a walk-in visitor's request.

The window's app generates `record_id` (a UUID) when the record is opened, so resending it is
harmless. The external id is "<window_id>/<record_id>", keeping which window took it; the staff
member is who filed it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from services.intake.submissions.form import (
    Address,
    AppealSubmission,
    AppellantIn,
    Community,
    Content,
    Id,
    LocationIn,
    Name,
    OptionalCreditCode,
    OptionalPhone,
    not_future_in_context,
)
from shared.vocabulary import AppealType, Category, Channel


class WindowRecord(BaseModel):
    """A walk-in request as the window's staff record it."""

    model_config = ConfigDict(extra="forbid")  # our own app: an unknown field is a bug

    record_id: UUID
    window_id: Id
    staff_id: Id
    visitor_name: Name = None  # a visitor may decline to give a name
    visitor_phone: OptionalPhone = None  # without it, no follow-up call
    enterprise_credit_code: OptionalCreditCode = None  # a visitor on an enterprise's behalf
    request: Content
    type: AppealType | None = None
    category: Category | None = None
    address: Address = None
    community: Community = None  # the window's community, or where the problem is
    recorded_at: AwareDatetime | None = None

    @field_validator("recorded_at")
    @classmethod
    def _recorded_at(cls, value: Any, info: ValidationInfo) -> Any:
        return not_future_in_context(value, info)


def external_id(window_id: str, record_id: UUID | str) -> str:
    return f"{window_id}/{record_id}"


_ID_FIELDS = (("window_id", TypeAdapter(Id)), ("record_id", TypeAdapter(UUID)))


def external_id_of(payload: Mapping[str, Any]) -> str | None:
    """The external id a record's payload gets, even when the payload is invalid (for its
    rejected receipt): None unless both ids are there. Each id is spelled as an accepted record
    spells it when it is valid on its own, else as sent (stripped)."""
    parts = []
    for field, adapter in _ID_FIELDS:
        value = payload.get(field)
        sent = str(value).strip() if isinstance(value, str | int) else ""
        if not sent:
            return None
        try:
            parts.append(str(adapter.validate_python(sent)))
        except ValidationError:
            parts.append(sent)
    return external_id(*parts)


def to_submission(record: WindowRecord) -> AppealSubmission:
    return AppealSubmission(
        channel=Channel.WINDOW,
        external_id=external_id(record.window_id, record.record_id),
        appellant=AppellantIn(
            name=record.visitor_name,
            phone=record.visitor_phone,
            enterprise_credit_code=record.enterprise_credit_code,
        ),
        content=record.request,
        location=LocationIn(address=record.address, community=record.community),
        type=record.type,
        category=record.category,
        submitted_at=record.recorded_at,
        filed_by=record.staff_id,
    )
