"""`POST /v1/channels/{channel}/follow-ups`: a channel reports a call-back's result. Signed by
a key of the path's channel with the `follow_up` scope, checked before the body is validated."""

from __future__ import annotations

from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.intake.channel_keys.dependencies import REFUSALS, GuardedRoute, Signed
from services.intake.channel_keys.keys import Scope
from services.intake.follow_ups.service import (
    FollowUpResult,
    NotAwaitingFollowUp,
    UnknownAppeal,
    record_follow_up,
)
from services.intake.tracking_codes.codes import normalise_tracking_code
from shared.http import CorrelationId
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import Channel, Satisfaction

router = APIRouter(prefix="/v1", tags=["channels"], route_class=GuardedRoute)


class FollowUpIn(BaseModel):
    """The result of calling the appellant back (回访). Name the appeal by exactly one of
    `appeal_id` or `tracking_code` (as the appellant read it out)."""

    model_config = ConfigDict(
        extra="forbid",
        # What `_exactly_one_reference` checks, in the published schema.
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["appeal_id"],
                    "properties": {
                        "appeal_id": {"type": "string"},
                        "tracking_code": {"type": "null"},
                    },
                },
                {
                    "required": ["tracking_code"],
                    "properties": {
                        "tracking_code": {"type": "string"},
                        "appeal_id": {"type": "null"},
                    },
                },
            ]
        },
    )

    appeal_id: UUID | None = None
    tracking_code: str | None = Field(None, max_length=64)
    contacted: bool
    solved: bool
    satisfaction: Satisfaction
    note: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _exactly_one_reference(self) -> FollowUpIn:
        if (self.appeal_id is None) == (self.tracking_code is None):
            raise ValueError("give exactly one of appeal_id or tracking_code")
        if self.tracking_code is not None:
            self.tracking_code = normalise_tracking_code(self.tracking_code)
        return self

    @property
    def reference(self) -> str:
        """The field that names the appeal."""
        return "appeal_id" if self.appeal_id is not None else "tracking_code"


class FollowUpAccepted(BaseModel):
    appeal_id: UUID
    status: str = "follow_up_recorded"


def _units(request: Request) -> UnitsOfWork:
    units: UnitsOfWork = request.app.state.runtime.units
    return units


@router.post(
    "/channels/{channel}/follow-ups",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FollowUpAccepted,
    responses={
        **REFUSALS,
        404: {"description": "No such appeal"},
        409: {
            "description": "The appeal is not resolved, so it awaits no follow-up result; "
            "`status` says where it is and `detail` why"
        },
        422: {"description": "Invalid result; `detail` names each failing field"},
    },
    dependencies=[Depends(Signed(Scope.FOLLOW_UP))],
)
async def record(
    channel: Channel,
    body: FollowUpIn,
    request: Request,
    x_correlation_id: CorrelationId = None,
) -> FollowUpAccepted | JSONResponse:
    """Published as FollowUpRecorded on appeals.follow-ups; tracking closes the loop with it.
    Taken only while the appeal is resolved (as intake last heard from tracking): otherwise
    409, naming the status."""
    result = FollowUpResult(
        channel=channel,
        appeal_id=body.appeal_id,
        tracking_code=body.tracking_code,
        contacted=body.contacted,
        solved=body.solved,
        satisfaction=body.satisfaction,
        note=body.note,
    )
    try:
        appeal_id = await record_follow_up(
            _units(request), result, x_correlation_id or str(uuid4())
        )
    except UnknownAppeal:
        raise HTTPException(
            404,
            detail=[
                {"loc": ["body", body.reference], "msg": "no such appeal", "type": "not_found"}
            ],
        ) from None
    except NotAwaitingFollowUp as refused:
        return JSONResponse(
            status_code=status.HTTP_409_CONFLICT,
            content={
                "detail": [
                    {"loc": ["body", body.reference], "msg": refused.reason, "type": "conflict"}
                ],
                "status": refused.status.value,
            },
        )
    return FollowUpAccepted(appeal_id=appeal_id)
