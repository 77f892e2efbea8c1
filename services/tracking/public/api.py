"""Tracking's public route: an appellant looks up their appeal by its tracking code and the last
four digits of their phone. No sign-in; nothing personal in the answer (no name, phone, officer
or notes), and an unknown code, a missing or a wrong `phone_last4` all answer the same 404, so
the page tells a stranger nothing. Guesses are limited per code and per client address
(public/guesses.py): over the limit, 429 with `Retry-After`."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select

from services.tracking.appeals.store import history_of
from services.tracking.public import store
from services.tracking.public.guesses import GuessLimits, Scope
from services.tracking.tables import appeals
from shared.client_address import client_address, parse_trusted_proxies
from shared.clock import utcnow
from shared.http import SnapshotSessionDep, UnitsDep
from shared.settings import Settings
from shared.vocabulary import AppealStatus

router = APIRouter(prefix="/v1", tags=["public"])

NOT_FOUND = "no appeal with this tracking code and phone"
PUBLIC_KINDS = frozenset(
    {
        "received",
        "merged",
        "assigned",
        "reassigned",
        "accept",
        "contact",
        "progress",
        "resolve",
        "request_return",
        "return_decided",
        "follow_up",
        "closed_no_feedback",
    }
)


class StatusStep(BaseModel):
    status: AppealStatus
    kind: str  # received, assigned, merged, reassigned, …
    at: datetime


class PublicStatus(BaseModel):
    tracking_code: str
    status: AppealStatus
    received_at: datetime | None
    history: list[StatusStep]


TOO_MANY = {
    "code": (["path", "tracking_code"], "too many wrong guesses for this tracking code"),
    "client": (["query", "phone_last4"], "too many wrong guesses from this address"),
}


def limits_of(settings: Settings) -> GuessLimits:
    return GuessLimits(
        per_code=settings.status_guesses_per_code,
        per_client=settings.status_guesses_per_client,
        window=timedelta(seconds=settings.status_guess_window_s),
    )


@router.get(
    "/status/{tracking_code}",
    response_model=PublicStatus,
    responses={404: {"description": NOT_FOUND}, 429: {"description": "Too many wrong guesses"}},
)
async def appeal_status(
    tracking_code: Annotated[str, Path(max_length=64)],
    request: Request,
    session: SnapshotSessionDep,
    units: UnitsDep,
    phone_last4: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{4}$", description="The last four digits of your phone number"),
    ] = None,
) -> Any:
    """Where an appeal stands, for the person who raised it. Anonymous appeals have no phone to
    check against and are not shown."""
    code = tracking_code.strip().upper()
    settings: Settings = request.app.state.runtime.settings
    limits = limits_of(settings)
    now = utcnow()
    window = limits.window_start(now)
    client = client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        parse_trusted_proxies(settings.trusted_proxies),
    )
    keys: dict[Scope, str] = {"code": code, "client": client}
    # Counted before the lookup, in its own commit, so guesses racing each other all count.
    async with units.begin() as uow:
        counts = await store.count(uow.session, keys, window)
        await store.forget_before(uow.session, window, limits.window)
    over = limits.over(counts)
    if over is not None:
        loc, msg = TOO_MANY[over]
        return JSONResponse(
            status_code=429,
            content={"detail": [{"loc": loc, "msg": msg, "type": "too_many_guesses"}]},
            headers={"Retry-After": str(limits.retry_after_s(now))},
        )
    row = (await session.execute(select(appeals).where(appeals.c.tracking_code == code))).first()
    # Compared in constant time; every failure is the same answer.
    if (
        row is None
        or row.phone_last4 is None
        or row.status is None
        or phone_last4 is None
        or not hmac.compare_digest(row.phone_last4, phone_last4)
    ):
        raise HTTPException(404, NOT_FOUND)
    async with units.begin() as uow:
        await store.give_back(uow.session, keys, window)
    # The steps of handling, not tracking's own bookkeeping (deadlines, reminders, urging,
    # reviews): those are for the officers and their supervisors.
    steps = [
        StatusStep(status=h.status, kind=h.kind, at=h.occurred_at)
        for h in await history_of(session, row.appeal_id)
        if h.kind in PUBLIC_KINDS
    ]
    return PublicStatus(
        tracking_code=row.tracking_code,
        status=row.status,
        received_at=row.received_at,
        history=steps,
    )
