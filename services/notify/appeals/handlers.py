"""What each appeal event tells notify's copy of the appeal. The decisions' consumers call these
before deciding who hears the event, in the same transaction (decisions/handlers.py), with the
unit of work's copies (store.py: read once per batch, written at its end)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.notify.appeals.store import AppealCopies
from shared.events import AppealAssigned, AppealReassigned, AppealReceived, AssistantsChanged

Remember = Callable[[AppealCopies, Any], Awaitable[None]]


async def received(copies: AppealCopies, event: AppealReceived) -> None:
    appellant = event.appellant
    await copies.received(
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


async def assigned(copies: AppealCopies, event: AppealAssigned | AppealReassigned) -> None:
    at = event.assigned_at if isinstance(event, AppealAssigned) else event.reassigned_at
    await copies.assigned(event.appeal_id, event.officer_id, at, event.tracking_code)


async def assistants(copies: AppealCopies, event: AssistantsChanged) -> None:
    await copies.assistants(event.appeal_id, event.assistant_officer_ids)


async def nothing(copies: AppealCopies, event: Any) -> None:
    """For the events that change nothing notify keeps."""
