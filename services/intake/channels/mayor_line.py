"""The mayor's direct line (市长直通车): letters and online messages to the mayor.

A letter has a title and a body; the appeal's content is the title, a line break, the body.
Writers may stay anonymous: then the appeal is anonymous and carries no name or phone even if
the letter left one — the writer asked not to be identified, so no follow-up call is made.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from services.intake.channels._common import ChinaDatetime
from services.intake.submissions.form import (
    CLEAN_LINE,
    CLEAN_TEXT,
    MAX_CONTENT,
    Address,
    AppealSubmission,
    AppellantIn,
    ExternalId,
    LocationIn,
    Name,
    OptionalPhone,
    not_future_in_context,
    required,
)
from shared.vocabulary import Channel

MAX_TITLE = 200
# Title, a line break and the body must fit the unified content.
MAX_BODY = MAX_CONTENT - MAX_TITLE - 1

Title = Annotated[str, CLEAN_LINE, required(MAX_TITLE)]
Body = Annotated[str, CLEAN_TEXT, required(MAX_BODY)]


class MayorLineMessage(BaseModel):
    """A letter or message to the mayor (来信/留言)."""

    # extra="ignore": an external system, same reasoning as the 12345 work order.
    model_config = ConfigDict(extra="ignore")

    message_id: ExternalId  # 信件编号
    title: Title  # 标题
    body: Body  # 正文
    anonymous: bool = False  # 匿名
    writer_name: Name = None  # 来信人
    contact_phone: OptionalPhone = None  # 联系电话
    address: Address = None  # 反映问题地址
    written_at: ChinaDatetime | None = None  # 来信时间

    @field_validator("written_at")
    @classmethod
    def _written_at(cls, value: Any, info: ValidationInfo) -> Any:
        return not_future_in_context(value, info)


def to_submission(message: MayorLineMessage) -> AppealSubmission:
    if message.anonymous:
        appellant = AppellantIn(anonymous=True)  # name and phone dropped on purpose
    else:
        appellant = AppellantIn(name=message.writer_name, phone=message.contact_phone)
    return AppealSubmission(
        channel=Channel.MAYOR_LINE,
        external_id=message.message_id,
        appellant=appellant,
        content=f"{message.title}\n{message.body}",
        location=LocationIn(address=message.address),
        submitted_at=message.written_at,
    )
