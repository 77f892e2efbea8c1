"""Notify's consumers: each event updates notify's own copy of what it needs (the appeal's
appellant and channel, the officer responsible, the directory's contacts), then becomes the
notifications the rules ask for, each worded, addressed and queued for delivery in the same
transaction as the inbox row, so a redelivered event creates nothing new."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import media, recipients, store
from services.notify.quiet_hours import QuietHours, waits_for_morning
from services.notify.rules import AppealFacts, decide
from services.notify.words import render
from shared.clock import utcnow
from shared.consumer import Route
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
    EnterpriseChanged,
    Event,
    ExtensionDecided,
    ExtensionRequested,
    FiveOnesReminder,
    OfficerChanged,
    PublicNoticeIssued,
    ReturnRequested,
)
from shared.unit_of_work import UnitOfWork
from shared.vocabulary import Medium, NotificationStatus

log = logging.getLogger(__name__)

UNREACHABLE = Counter(
    "jiban_notify_unreachable_total",
    "Notifications not created because the recipient has no way to be reached",
    ["kind"],
)


# Kinds that copy someone in: skipped for whoever the event already tells directly (the CSO's
# assistant who is handling the appeal themselves).
COPIES = frozenset({"cso_copy"})


def facts_of(row: Any) -> AppealFacts | None:
    if row is None:
        return None
    return AppealFacts(
        appeal_id=row.appeal_id,
        tracking_code=row.tracking_code,
        channel=row.channel,
        external_id=row.external_id,
        anonymous=row.anonymous,
        appellant_name=row.appellant_name,
        appellant_phone=row.appellant_phone,
        urgency=row.urgency,
        officer_id=row.officer_id,
        assistant_officer_ids=tuple(row.assistant_officer_ids or ()),
        enterprise_credit_code=row.enterprise_credit_code,
    )


def words_medium(medium: Medium, kind: str) -> str:
    # The recording provider keeps what an SMS would say (a webhook's JSON for callbacks).
    if medium == Medium.RECORD:
        return "webhook" if kind == "status_callback" else "sms"
    return medium.value


@dataclass
class Notifier:
    """Turns an event into queued notifications."""

    language: str
    quiet: QuietHours | None
    available: frozenset[Medium]
    webhook_channels: frozenset[str] = frozenset()
    clock: Callable[[], datetime] = utcnow
    # The delivery worker's wake: new notifications go out once committed, not at its next poll.
    wake: Callable[[], None] | None = None

    async def __call__(self, uow: UnitOfWork, envelope: Envelope, event: Event) -> int:
        session = uow.session
        appeal_id = getattr(event, "appeal_id", None)
        appeal = facts_of(await store.appeal(session, appeal_id)) if appeal_id else None
        created = 0
        told: set[str] = set()
        for intent in decide(event, appeal):
            for who in await recipients.resolve(
                session, intent.audience, appeal, self.webhook_channels
            ):
                if intent.kind in COPIES and who.label in told:
                    continue  # a copy to someone already told about this event says nothing new
                told.add(who.label)
                route = media.choose(who.label, intent.kind, who.contact, self.available)
                if route is None:
                    UNREACHABLE.labels(intent.kind).inc()
                    log.info(
                        "recipient cannot be reached",
                        extra={"kind": intent.kind, "recipient": who.label},
                    )
                    continue
                message = render(
                    intent.kind,
                    words_medium(route.medium, intent.kind),
                    intent.context,
                    language=self.language,
                    reveal_appellant=who.reveal_appellant,
                )
                quiet = waits_for_morning(
                    medium=route.medium, recipient=who.label, urgent=intent.urgent
                )
                morning = self.quiet.ends_after(self.clock()) if quiet and self.quiet else None
                created += await store.add_notification(
                    session,
                    event_id=envelope.event_id,
                    appeal_id=appeal_id,
                    recipient=who.label,
                    medium=route.medium,
                    kind=intent.kind,
                    language=self.language,
                    subject=message.subject,
                    body=message.body,
                    address=route.address,
                    quiet_hours=quiet,
                    status=NotificationStatus.DEFERRED if morning else NotificationStatus.PENDING,
                    not_before=morning,
                )
        if created and self.wake is not None:
            uow.on_commit(self.wake)
        return created


# --- notify's copy of each appeal ------------------------------------------------------------

Remember = Callable[[AsyncSession, Any], Awaitable[None]]


async def _received(session: AsyncSession, event: AppealReceived) -> None:
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


async def _assigned(session: AsyncSession, event: AppealAssigned | AppealReassigned) -> None:
    at = event.assigned_at if isinstance(event, AppealAssigned) else event.reassigned_at
    await store.assign_appeal(session, event.appeal_id, event.officer_id, at, event.tracking_code)


async def _assistants(session: AsyncSession, event: AssistantsChanged) -> None:
    await store.save_appeal(
        session, event.appeal_id, assistant_officer_ids=list(event.assistant_officer_ids)
    )


async def _nothing(session: AsyncSession, event: Any) -> None:
    return None


@dataclass
class Routes:
    notifier: Notifier
    routes: dict[str, dict[str, Route]] = field(default_factory=dict)

    def add(self, model: type[Event], remember: Remember = _nothing) -> None:
        notifier = self.notifier

        async def handle(uow: UnitOfWork, envelope: Envelope, event: Event) -> None:
            await remember(uow.session, event)
            await notifier(uow, envelope, event)

        self.routes.setdefault(model.TOPIC, {})[model.TYPE] = Route(model, handle)


async def _officer(uow: UnitOfWork, envelope: Envelope, event: OfficerChanged) -> None:
    await store.save_officer(
        uow.session,
        envelope.occurred_at,
        officer_id=event.officer_id,
        name=event.name,
        role=event.role,
        unit=event.unit,
        supervisor_id=event.supervisor_id,
        paired_officer_id=event.paired_officer_id,
        phone=event.phone,
        email=event.email,
    )


async def _enterprise(uow: UnitOfWork, envelope: Envelope, event: EnterpriseChanged) -> None:
    await store.save_enterprise(
        uow.session, event.credit_code, event.cso_officer_id, envelope.occurred_at
    )


def receipt_routes(notifier: Notifier) -> dict[str, Route]:
    """A status change heard before the appeal's receipt waits for it (the appellant and the
    channel it concerns are only known from the receipt); the receipt then decides those that
    waited, in their order, each under its own event id (so once, as ever)."""

    async def on_received(uow: UnitOfWork, envelope: Envelope, event: Event) -> None:
        assert isinstance(event, AppealReceived)
        await _received(uow.session, event)
        await notifier(uow, envelope, event)
        for waited in await store.unpark(uow.session, event.appeal_id):
            parked = Envelope.model_validate_json(waited)
            await notifier(uow, parked, AppealStatusChanged.model_validate(parked.payload))

    async def on_status(uow: UnitOfWork, envelope: Envelope, event: Event) -> None:
        assert isinstance(event, AppealStatusChanged)
        known = await store.appeal(uow.session, event.appeal_id)
        if known is None or known.channel is None:  # the receipt has not been heard yet
            await store.park(uow.session, event.appeal_id, envelope.model_dump_json())
            return
        await notifier(uow, envelope, event)

    return {
        AppealReceived.TYPE: Route(AppealReceived, on_received),
        AppealStatusChanged.TYPE: Route(AppealStatusChanged, on_status),
    }


def routes(notifier: Notifier) -> dict[str, dict[str, Route]]:
    """Routes per topic: every event someone hears about, and the directory's contacts."""
    table = Routes(notifier)
    table.add(AppealMerged)
    table.add(AppealAssigned, _assigned)
    table.add(AppealReassigned, _assigned)
    table.add(AssistantsChanged, _assistants)
    for model in (
        AppealEscalated,
        ExtensionRequested,
        ExtensionDecided,
        ReturnRequested,
        AcknowledgementReminder,
        DeadlineWarning,
        DeadlineOverdue,
        PublicNoticeIssued,
        FiveOnesReminder,
    ):
        table.add(model)
    for model_type, route in receipt_routes(notifier).items():
        topic = (
            AppealReceived.TOPIC if model_type == AppealReceived.TYPE else AppealStatusChanged.TOPIC
        )
        table.routes.setdefault(topic, {})[model_type] = route
    directory = table.routes.setdefault(OfficerChanged.TOPIC, {})
    directory[OfficerChanged.TYPE] = Route(OfficerChanged, _officer)
    directory[EnterpriseChanged.TYPE] = Route(EnterpriseChanged, _enterprise)
    return table.routes
