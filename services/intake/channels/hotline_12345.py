"""The 12345 government service hotline: work orders its platform pushes to the zone.

The operator took the call and wrote the order; the caller is the appellant, the operator filed
it. The hotline's own type, category and urgency codes travel raw in `channel_codes`:
classification maps them through the code table in the rules file.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, field_validator

from services.intake.channels._common import ChinaDatetime
from services.intake.submissions.form import (
    Address,
    AppealSubmission,
    AppellantIn,
    ChannelCodes,
    Code,
    Content,
    ExternalId,
    Id,
    LocationIn,
    Name,
    OptionalPhone,
    not_future_in_context,
)
from shared.vocabulary import Channel


def _flag_as_code(value: Any) -> Any:
    # Some versions send the urgency flag as a boolean (是否紧急) rather than a code.
    if isinstance(value, bool):
        return "1" if value else "0"
    return value


class HotlineWorkOrder(BaseModel):
    """A 12345 work order (工单) as pushed to us."""

    # extra="ignore": an external system adds fields without telling us; refusing its orders for
    # that would lose citizens' appeals, and we map only the fields we know.
    model_config = ConfigDict(extra="ignore")

    order_no: ExternalId  # 工单编号
    caller_name: Name = None  # 来电人
    caller_phone: OptionalPhone = None  # 联系电话
    type_code: Code = None  # 诉求类型代码 (咨询/求助/投诉/举报/建议)
    category_code: Code = None  # 诉求分类代码
    urgency_flag: Annotated[Code, BeforeValidator(_flag_as_code)] = None  # 紧急程度
    content: Content  # 诉求内容
    address: Address = None  # 事发地址
    accepted_at: ChinaDatetime  # 受理时间
    operator_id: Id  # 受理话务员工号

    @field_validator("accepted_at")
    @classmethod
    def _accepted_at(cls, value: Any, info: ValidationInfo) -> Any:
        return not_future_in_context(value, info)


def to_submission(order: HotlineWorkOrder) -> AppealSubmission:
    codes = ChannelCodes(
        type=order.type_code, category=order.category_code, urgency=order.urgency_flag
    )
    has_codes = any(value is not None for value in codes.model_dump().values())
    return AppealSubmission(
        channel=Channel.HOTLINE_12345,
        external_id=order.order_no,
        appellant=AppellantIn(name=order.caller_name, phone=order.caller_phone),
        content=order.content,
        location=LocationIn(address=order.address),
        submitted_at=order.accepted_at,
        filed_by=order.operator_id,
        channel_codes=codes if has_codes else None,
    )
