"""What each appeal event tells notify's copy of the appeal. The decisions' consumers call these
before deciding who hears the event, in the same transaction (decisions/handlers.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.appeals import store
from shared.events import AppealAssigned, AppealReassigned, AppealReceived, AssistantsChanged

Remember = Callable[[AsyncSession, Any], Awaitable[None]]


async def received(session: AsyncSession, event: AppealReceived) -> None:
    appellant = event.appellant
    await store.save_appeal(
        session,
        event.appeal_id,
        tracking_code=event.tracking_code,
        channel=event.channel,
        external_id=event.external_id,
        anonymous=appellant.anonymous,
        # An anonymous appellant's contact is not kept even if a channel sent it.
        appellant_name=None if appellant.anonymous else appellant.name,
        appellant_phone=None if appellant.anonymous else appellant.phone,
        urgency=event.urgency,
        enterprise_credit_code=appellant.enterprise_credit_code,
    )


async def assigned(session: AsyncSession, event: AppealAssigned | AppealReassigned) -> None:
    at = event.assigned_at if isinstance(event, AppealAssigned) else event.reassigned_at
    await store.assign_appeal(session, event.appeal_id, event.officer_id, at, event.tracking_code)


async def assistants(session: AsyncSession, event: AssistantsChanged) -> None:
    await store.save_appeal(
        session, event.appeal_id, assistant_officer_ids=list(event.assistant_officer_ids)
    )


async def nothing(session: AsyncSession, event: Any) -> None:
    """For the events that change nothing notify keeps."""
