"""Notify's consumers of the appeal topics: each event first updates notify's copy of the appeal
(appeals/handlers.py), then becomes the notifications the rules ask for (service.py), in the
consumer's unit of work with its inbox row.

Before a batch's handlers, `prepare` reads what they will ask for, one query per table: the
batch's appeals, what waited for its receipts, the officers its events and appeals name."""

from __future__ import annotations

from typing import Any

from services.notify.appeals import handlers as appeals
from services.notify.appeals.store import copies
from services.notify.decisions import store
from services.notify.decisions.service import Notifier
from services.notify.directory.store import directory
from shared.consumer import Handler, Route
from shared.envelope import Envelope
from shared.events import (
    AcknowledgementReminder,
    AppealAssigned,
    AppealEscalated,
    AppealMerged,
    AppealReassigned,
    AppealReceived,
    AppealStatusChanged,
    AssistantsChanged,
    DeadlineOverdue,
    DeadlineWarning,
    Event,
    ExtensionCancelled,
    ExtensionDecided,
    ExtensionRequested,
    FiveOnesReminder,
    FollowUpRefused,
    PublicNoticeIssued,
    ReturnRequested,
)
from shared.unit_of_work import UnitOfWork

# What each event tells notify's copy of the appeal before it is decided on.
REMEMBER: dict[type[Event], appeals.Remember] = {
    AppealMerged: appeals.nothing,
    AppealAssigned: appeals.assigned,
    AppealReassigned: appeals.assigned,
    AssistantsChanged: appeals.assistants,
    AppealEscalated: appeals.nothing,
    ExtensionRequested: appeals.nothing,
    ExtensionDecided: appeals.nothing,
    ExtensionCancelled: appeals.nothing,
    FollowUpRefused: appeals.nothing,
    ReturnRequested: appeals.nothing,
    AcknowledgementReminder: appeals.nothing,
    DeadlineWarning: appeals.nothing,
    DeadlineOverdue: appeals.nothing,
    PublicNoticeIssued: appeals.nothing,
    FiveOnesReminder: appeals.nothing,
}


# The fields by which an event names officers the rules may tell (or whose supervisor).
NAMING = ("officer_id", "supervisor_id", "cso_assistant_id")


async def prepare(uow: UnitOfWork, batch: list[tuple[Envelope, Any]]) -> None:
    """Reads, for a batch of appeal events, what its handlers would read one message at a time
    (anything it did not foresee is read when asked for, once); its appeals are locked until
    the batch commits."""
    events = [event for _, event in batch]
    appeal_ids = {e.appeal_id for e in events if getattr(e, "appeal_id", None) is not None}
    known = copies(uow)
    await known.load(appeal_ids)
    receipts = [e.appeal_id for e in events if isinstance(e, AppealReceived)]
    if receipts:
        await store.waiting(uow).take(receipts)
    named = {getattr(e, field, None) for e in events for field in NAMING}
    for appeal_id in appeal_ids:
        named.add((await known.facts(appeal_id)).officer_id)
    await directory(uow).load({officer_id for officer_id in named if isinstance(officer_id, str)})


def _remember_then_notify(remember: appeals.Remember, notifier: Notifier) -> Handler:
    async def handle(uow: UnitOfWork, envelope: Envelope, event: Event) -> None:
        await remember(copies(uow), event)
        await notifier(uow, envelope, event)

    return handle


def receipt_routes(notifier: Notifier) -> dict[str, Route]:
    """A status change heard before the appeal's receipt waits for it (the appellant and the
    channel it concerns are only known from the receipt); the receipt then decides those that
    waited, in their order, each under its own event id (so once, as ever)."""

    async def on_received(uow: UnitOfWork, envelope: Envelope, event: AppealReceived) -> None:
        await appeals.received(copies(uow), event)
        await notifier(uow, envelope, event)
        for waited in await store.waiting(uow).unpark(event.appeal_id):
            parked = Envelope.model_validate_json(waited)
            await notifier(uow, parked, AppealStatusChanged.model_validate(parked.payload))

    async def on_status(uow: UnitOfWork, envelope: Envelope, event: AppealStatusChanged) -> None:
        known = await copies(uow).facts(event.appeal_id)
        if known.channel is None:  # the receipt has not been heard yet
            await store.waiting(uow).park(event.appeal_id, envelope.model_dump_json())
            return
        await notifier(uow, envelope, event)

    return {
        AppealReceived.TYPE: Route(AppealReceived, on_received),
        AppealStatusChanged.TYPE: Route(AppealStatusChanged, on_status),
    }


def routes(notifier: Notifier) -> dict[str, dict[str, Route]]:
    """Routes per topic: every appeal event someone hears about."""
    table: dict[str, dict[str, Route]] = {}
    for model, remember in REMEMBER.items():
        route = Route(model, _remember_then_notify(remember, notifier))
        table.setdefault(model.TOPIC, {})[model.TYPE] = route
    for model_type, route in receipt_routes(notifier).items():
        table.setdefault(route.model.TOPIC, {})[model_type] = route
    return table
