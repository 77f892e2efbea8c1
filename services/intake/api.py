"""Intake's HTTP API for channel adapters."""

from __future__ import annotations

from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Header, Request, Response, status

from services.intake.accept import accept
from services.intake.submission import AppealAccepted, AppealSubmission

router = APIRouter(prefix="/v1", tags=["appeals"])


@router.post(
    "/appeals",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        200: {"model": AppealAccepted, "description": "Already submitted: the same appeal"},
        422: {"description": "Invalid submission; `detail` names each failing field"},
        503: {"description": "Nothing stored (a dependency is down); retry after Retry-After"},
    },
)
async def submit_appeal(
    submission: AppealSubmission,
    request: Request,
    response: Response,
    x_correlation_id: Annotated[str | None, Header(max_length=200)] = None,
) -> AppealAccepted:
    """Accepts an appeal into the immediate-handling stream. Answers 202 only once the appeal and
    its AppealReceived event are committed together; it reaches dispatch from there."""
    runtime = request.app.state.runtime
    accepted, created = await accept(
        runtime.db,
        runtime.outbox,
        request.app.state.codes,
        submission,
        x_correlation_id or str(uuid4()),
    )
    if created:
        runtime.relay.wake()
    else:
        response.status_code = status.HTTP_200_OK
    return accepted
