"""Intake's HTTP API for submissions: each channel's native form, the unified form, and
receipts. Every answer about a submission is a Receipt. Who may call is decided before the
body is validated (`GuardedRoute`: 401/403/429 before 422).

No `from __future__ import annotations` here: the per-channel routes are built in a loop and
FastAPI must see each route's payload model as a real class."""

from typing import Any
from uuid import uuid4

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.intake.channel_keys.dependencies import (
    REFUSALS,
    GuardedRoute,
    ReceiptReader,
    Signed,
    SignedForBody,
    WebClient,
)
from services.intake.channel_keys.keys import Scope
from services.intake.channels import CHANNELS, ChannelSpec
from services.intake.submissions.form import AppealSubmission, time_errors
from services.intake.submissions.service import Intake, Receipt
from shared.clock import utcnow
from shared.http import CorrelationId
from shared.vocabulary import Channel

router = APIRouter(prefix="/v1", tags=["appeals"], route_class=GuardedRoute)


SUBMISSION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Receipt, "description": "Joined an open appeal (merged), or answered before"},
    **REFUSALS,
    422: {"description": "Invalid submission; `detail` names each failing field"},
    429: {"description": "Unsigned (web) submissions from this address over the limit"},
    503: {"description": "Nothing stored (a dependency is down); retry after Retry-After"},
}


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


def _answer(response: Response, receipt: Receipt, new: bool) -> Receipt:
    # 202: accepted just now for handling (or a visit logged); 200: nothing new was created.
    fresh = new and receipt.status in ("received", "visit_logged")
    response.status_code = status.HTTP_202_ACCEPTED if fresh else status.HTTP_200_OK
    return receipt


@router.post(
    "/appeals",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Receipt,
    response_model_exclude_none=True,
    # Never rate-limited: outside dev mode it is always signed.
    responses={k: v for k, v in SUBMISSION_RESPONSES.items() if k != 429},
    dependencies=[Depends(SignedForBody(Scope.SUBMIT))],
)
async def submit_appeal(
    submission: AppealSubmission,
    request: Request,
    response: Response,
    x_correlation_id: CorrelationId = None,
) -> Receipt:
    """The unified form, for any channel, signed by a key of the body's channel (open without
    a signature under JIBAN_DEV_MODE=1). Answers 202 only once the appeal and its
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
    guard = WebClient() if channel == Channel.WEB else Signed(Scope.SUBMIT, channel)

    async def submit_native(
        # The channel's own model, chosen per route as it is built: FastAPI reads it from the
        # signature; mypy cannot take a variable as a type.
        payload: Native,  # type: ignore[valid-type]
        request: Request,
        response: Response,
        x_correlation_id: CorrelationId = None,
    ) -> Receipt:
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
        dependencies=[Depends(guard)],
    )


for _spec in CHANNELS.values():
    _native_route(_spec)


# `:path`: a window's external id is "<window_id>/<record_id>". The signature covers the raw
# path as sent, so "/" and "%2F" both verify when signed as sent.
@router.get(
    "/channels/{channel}/appeals/{external_id:path}",
    response_model=Receipt,
    response_model_exclude_none=True,
    tags=["channels"],
    responses={
        **REFUSALS,
        404: {"description": "This channel never submitted that external id"},
        429: {"description": "Unsigned (web) reads from this address over the limit"},
    },
    dependencies=[Depends(ReceiptReader())],
)
async def get_receipt(channel: Channel, external_id: str, request: Request) -> Receipt:
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
