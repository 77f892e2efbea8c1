"""Convenience windows (便民窗口): staff record a walk-in visitor's request.

The window's app generates `record_id` (a UUID) when the record is opened, so resending it is
harmless. The external id is "<window_id>/<record_id>", keeping which window took it; the staff
member is who filed it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationInfo, field_validator

from services.intake.submission import (
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


def to_submission(record: WindowRecord) -> AppealSubmission:
    return AppealSubmission(
        channel=Channel.WINDOW,
        external_id=f"{record.window_id}/{record.record_id}",
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
