"""Notify's consumers: each event becomes the notifications the rules ask for."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import store
from services.notify.rules import decide
from services.notify.templates import render
from shared.consumer import Route
from shared.envelope import Envelope
from shared.events import AppealAssigned, AppealReceived, Event
from shared.vocabulary import Medium


async def record_intents(
    session: AsyncSession, envelope: Envelope, event: Event, medium: Medium
) -> int:
    created = 0
    for intent in decide(event):
        created += await store.add_notification(
            session,
            event_id=envelope.event_id,
            appeal_id=getattr(event, "appeal_id", None),
            recipient=intent.recipient,
            medium=medium,
            kind=intent.kind,
            body=render(intent.kind, intent.context),
        )
    return created


def routes(medium: Medium) -> dict[str, dict[str, Route]]:
    """Routes per topic; the topics differ, the handling is the same."""

    async def handle(session: AsyncSession, envelope: Envelope, event: Event) -> None:
        await record_intents(session, envelope, event, medium)

    return {
        AppealReceived.TOPIC: {AppealReceived.TYPE: Route(AppealReceived, handle)},
        AppealAssigned.TOPIC: {AppealAssigned.TYPE: Route(AppealAssigned, handle)},
    }
