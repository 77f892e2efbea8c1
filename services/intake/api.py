"""Intake's HTTP API for channel adapters: each channel's native form, the unified form, receipts
and follow-up results. Every answer about a submission is a Receipt.

No `from __future__ import annotations` here: the per-channel routes are built in a loop and
FastAPI must see each route's payload model as a real class."""

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.intake.accept import Intake, Receipt, UnknownAppeal
from services.intake.auth import (
    ChannelAuth,
    rate_limited_web,
    require_channel,
    signed,
    submitter,
)
from services.intake.channels import CHANNELS, ChannelSpec
from services.intake.keys import ChannelKey, Scope
from services.intake.signing import has_signature_headers
from services.intake.submission import AppealSubmission, time_errors
from services.intake.tracking_code import normalise_tracking_code
from shared.envelope import utcnow
from shared.http import CorrelationId
from shared.vocabulary import Channel, Satisfaction

router = APIRouter(prefix="/v1", tags=["appeals"])


SUBMISSION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Receipt, "description": "Joined an open appeal (merged), or answered before"},
    401: {"description": "Missing, wrong, stale or replayed signature"},
    403: {"description": "The key belongs to another channel or lacks the scope"},
    422: {"description": "Invalid submission; `detail` names each failing field"},
    429: {"description": "Unsigned (web) submissions from this address over the limit"},
    503: {"description": "Nothing stored (a dependency is down); retry after Retry-After"},
}


def _intake(request: Request) -> Intake:
    return request.app.state.intake  # type: ignore[no-any-return]


def _answer(response: Response, receipt: Receipt, new: bool) -> Receipt:
    # 202: accepted just now for handling (or a visit logged); 200: nothing new was created.
    fresh = new and receipt.status in ("received", "visit_logged")
    response.status_code = status.HTTP_202_ACCEPTED if fresh else status.HTTP_200_OK
    return receipt


async def unified_submitter(request: Request) -> ChannelKey | None:
    """`make run` (JIBAN_DEV_MODE=1) keeps the unified form open without a signature; otherwise
    a key of the body's channel signs it, whatever the channel (browsers use the web channel's
    own route, unsigned and rate-limited)."""
    auth: ChannelAuth = request.app.state.channel_auth
    if auth.config.dev_mode and not has_signature_headers(request.headers):
        return None
    return await submitter(Scope.SUBMIT)(request)


@router.post(
    "/appeals",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Receipt,
    response_model_exclude_none=True,
    # Never rate-limited: outside dev mode it is always signed.
    responses={k: v for k, v in SUBMISSION_RESPONSES.items() if k != 429},
)
async def submit_appeal(
    submission: AppealSubmission,
    request: Request,
    response: Response,
    who: Annotated[ChannelKey | None, Depends(unified_submitter)],
    x_correlation_id: CorrelationId = None,
) -> Receipt:
    """The unified form, for any channel. Answers 202 only once the appeal and its
    AppealReceived event are committed together; a repeat of one of the appellant's open
    appeals joins it instead (200, `merged`)."""
    errors = time_errors(submission, utcnow(), loc_prefix=("body",))
    if errors:
        raise RequestValidationError(errors)
    receipt, new = await _intake(request).submit(submission, x_correlation_id or str(uuid4()))
    return _answer(response, receipt, new)


def _native_route(spec: ChannelSpec) -> None:
    channel = spec.channel
    Native = spec.native
    guard = (
        Depends(rate_limited_web)
        if channel == Channel.WEB
        else Depends(signed(Scope.SUBMIT))  # the channel is checked in the route
    )

    async def submit_native(
        payload: Native,  # type: ignore[valid-type]
        request: Request,
        response: Response,
        caller: Annotated[Any, guard],
        x_correlation_id: CorrelationId = None,
    ) -> Receipt:
        if isinstance(caller, ChannelKey):
            require_channel(caller, channel.value, path=request.url.path)
        try:
            # Again, with the clock: times in the future are refused, naming the native field.
            result = spec.parse(await request.json(), now=utcnow())
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from None
        intake = _intake(request)
        correlation_id = x_correlation_id or str(uuid4())
        if isinstance(result, AppealSubmission):
            receipt, new = await intake.submit(result, correlation_id)
        else:
            receipt, new = await intake.log_visit(result, correlation_id)
        return _answer(response, receipt, new)

    submit_native.__name__ = f"submit_{channel.value}"
    router.add_api_route(
        f"/channels/{channel.value}/appeals",
        submit_native,
        methods=["POST"],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Receipt,
        response_model_exclude_none=True,
        responses=SUBMISSION_RESPONSES,
        summary=f"Submit in the {channel.value} channel's own form",
        description=(spec.native.__doc__ or "").strip(),
        tags=["channels"],
    )


for _spec in CHANNELS.values():
    _native_route(_spec)


async def receipt_reader(request: Request, channel: Channel) -> ChannelKey | str:
    if channel == Channel.WEB:
        return await rate_limited_web(request)  # the external_id is the form's own UUID
    key = await signed(Scope.SUBMIT)(request)
    require_channel(key, channel.value, path=request.url.path)
    return key


# `:path`: a window's external id is "<window_id>/<record_id>". The signature covers the raw
# path as sent, so "/" and "%2F" both verify when signed as sent.
@router.get(
    "/channels/{channel}/appeals/{external_id:path}",
    response_model=Receipt,
    response_model_exclude_none=True,
    tags=["channels"],
    responses={404: {"description": "This channel never submitted that external id"}},
)
async def get_receipt(
    channel: Channel,
    external_id: str,
    request: Request,
    _: Annotated[Any, Depends(receipt_reader)],
) -> Receipt:
    """What intake answered to one submission (appeal id and tracking code, or merged, or a
    logged visit). Adapters that submitted over Kafka read their outcome here too."""
    receipt = await _intake(request).receipt(channel, external_id)
    if receipt is None:
        raise HTTPException(
            404,
            detail=[
                {
                    "loc": ["path", "external_id"],
                    "msg": f"no submission {external_id!r} from {channel.value}",
                    "type": "not_found",
                }
            ],
        )
    return receipt


class FollowUpIn(BaseModel):
    """The result of calling the appellant back (回访). Name the appeal by exactly one of
    `appeal_id` or `tracking_code` (as the appellant read it out)."""

    model_config = ConfigDict(extra="forbid")

    appeal_id: UUID | None = None
    tracking_code: str | None = Field(None, max_length=64)
    contacted: bool
    solved: bool
    satisfaction: Satisfaction
    note: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _exactly_one_reference(self) -> "FollowUpIn":
        if (self.appeal_id is None) == (self.tracking_code is None):
            raise ValueError("give exactly one of appeal_id or tracking_code")
        if self.tracking_code is not None:
            self.tracking_code = normalise_tracking_code(self.tracking_code)
        return self


class FollowUpAccepted(BaseModel):
    appeal_id: UUID
    status: str = "follow_up_recorded"


@router.post(
    "/channels/{channel}/follow-ups",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FollowUpAccepted,
    tags=["channels"],
    responses={404: {"description": "No such appeal"}, 401: {}, 403: {}, 422: {}},
)
async def record_follow_up(
    channel: Channel,
    body: FollowUpIn,
    request: Request,
    key: Annotated[ChannelKey, Depends(signed(Scope.FOLLOW_UP))],
    x_correlation_id: CorrelationId = None,
) -> FollowUpAccepted:
    """Published as FollowUpRecorded on appeals.follow-ups; tracking closes the loop with it."""
    require_channel(key, channel.value, path=request.url.path)
    try:
        appeal_id = await _intake(request).record_follow_up(
            channel=channel,
            appeal_id=body.appeal_id,
            tracking_code=body.tracking_code,
            contacted=body.contacted,
            solved=body.solved,
            satisfaction=body.satisfaction,
            note=body.note,
            correlation_id=x_correlation_id or str(uuid4()),
        )
    except UnknownAppeal:
        field = "appeal_id" if body.appeal_id is not None else "tracking_code"
        raise HTTPException(
            404,
            detail=[{"loc": ["body", field], "msg": "no such appeal", "type": "not_found"}],
        ) from None
    return FollowUpAccepted(appeal_id=appeal_id)
