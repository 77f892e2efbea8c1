"""Tracking's public route: an appellant looks up their appeal by its tracking code and the last
four digits of their phone. No sign-in; nothing personal in the answer (no name, phone, officer
or notes), and an unknown code, a missing or a wrong `phone_last4` all answer the same 404, so
the page tells a stranger nothing."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import select

from services.tracking import store
from shared.http import SnapshotSessionDep
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


@router.get("/status/{tracking_code}", responses={404: {"description": NOT_FOUND}})
async def appeal_status(
    tracking_code: str,
    session: SnapshotSessionDep,
    phone_last4: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{4}$", description="The last four digits of your phone number"),
    ] = None,
) -> PublicStatus:
    """Where an appeal stands, for the person who raised it. Anonymous appeals have no phone to
    check against and are not shown."""
    code = tracking_code.strip().upper()
    row = (
        await session.execute(select(store.appeals).where(store.appeals.c.tracking_code == code))
    ).first()
    known = row is not None and row.phone_last4 is not None and row.status is not None
    # Compared in constant time; every failure is the same answer.
    if not known or phone_last4 is None or not hmac.compare_digest(row.phone_last4, phone_last4):
        raise HTTPException(404, NOT_FOUND)
    # The steps of handling, not tracking's own bookkeeping (deadlines, reminders, urging,
    # reviews): those are for the officers and their supervisors.
    steps = [
        StatusStep(status=h.status, kind=h.kind, at=h.occurred_at)
        for h in await store.history_of(session, row.appeal_id)
        if h.kind in PUBLIC_KINDS
    ]
    return PublicStatus(
        tracking_code=row.tracking_code,
        status=row.status,
        received_at=row.received_at,
        history=steps,
    )
