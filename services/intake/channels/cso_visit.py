"""Chief service officers' field visits to enterprises (首席服务官走访).

A visit that found a problem becomes an appeal whose appellant is the enterprise (its credit
code; the person met, if given, as contact) and which the CSO filed (`filed_by`). A visit that
found none creates no appeal: it is a `VisitLog`, the record that the CSO was there (the monthly
"contact every assigned enterprise" duty counts those).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationInfo, field_validator

from services.intake.submissions.form import (
    BLANK_IS_NONE,
    CLEAN_TEXT,
    MAX_CONTENT,
    AppealSubmission,
    AppellantIn,
    CreditCode,
    ExternalId,
    Id,
    Name,
    OptionalPhone,
    at_most,
    not_future_in_context,
)
from shared.vocabulary import Category, Channel

MAX_NOTE = 1000

Problem = Annotated[Annotated[str, CLEAN_TEXT, at_most(MAX_CONTENT)] | None, BLANK_IS_NONE]
Note = Annotated[Annotated[str, CLEAN_TEXT, at_most(MAX_NOTE)] | None, BLANK_IS_NONE]


class VisitLog(BaseModel):
    """A visit without a problem: nothing to handle, but the visit happened."""

    model_config = ConfigDict(frozen=True)

    visit_id: str
    officer_id: str
    enterprise_credit_code: str
    visited_at: AwareDatetime
    note: str | None = None


class CsoVisit(BaseModel):
    """A visit as the CSO records it in the app."""

    model_config = ConfigDict(extra="forbid")  # our own app: an unknown field is a bug

    visit_id: ExternalId
    officer_id: Id
    enterprise_credit_code: CreditCode
    visited_at: AwareDatetime
    problem: Problem = None  # 发现的问题; none means a plain visit
    category: Category | None = None
    contact_name: Name = None  # the enterprise's person the CSO met
    contact_phone: OptionalPhone = None
    # The visit's own note; it goes to the VisitLog. With a problem, the problem text is what
    # the appeal carries.
    note: Note = None

    @field_validator("visited_at")
    @classmethod
    def _visited_at(cls, value: Any, info: ValidationInfo) -> Any:
        return not_future_in_context(value, info)

    @field_validator("category")
    @classmethod
    def _category_needs_problem(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("problem") is None and "problem" in info.data:
            raise ValueError("a category classifies a problem: give the problem text, or none")
        return value


def to_submission(visit: CsoVisit) -> AppealSubmission | VisitLog:
    if visit.problem is None:
        return VisitLog(
            visit_id=visit.visit_id,
            officer_id=visit.officer_id,
            enterprise_credit_code=visit.enterprise_credit_code,
            visited_at=visit.visited_at,
            note=visit.note,
        )
    return AppealSubmission(
        channel=Channel.CSO_VISIT,
        external_id=visit.visit_id,
        appellant=AppellantIn(
            name=visit.contact_name,
            phone=visit.contact_phone,
            enterprise_credit_code=visit.enterprise_credit_code,
        ),
        content=visit.problem,
        category=visit.category,
        submitted_at=visit.visited_at,
        filed_by=visit.officer_id,
    )
