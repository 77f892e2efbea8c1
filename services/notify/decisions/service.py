"""From an event to queued notifications: the rules say who hears what (rules.py), the
recipients are found in notify's copies (recipients.py), each gets one medium (media.py) and
its words (words.py), and the notification is queued for delivery in the caller's unit of work
(the consumer's, with its inbox row), so a redelivered event creates nothing new.

It reads and queues through the unit of work's repositories, so that a consumer's batch reads
each appeal and officer once and adds all its notifications in one statement."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter

from services.notify.appeals.store import copies
from services.notify.decisions import media, recipients
from services.notify.decisions.rules import decide
from services.notify.decisions.words import render
from services.notify.deliveries.quiet_hours import QuietHours, waits_for_morning
from services.notify.deliveries.store import queue
from services.notify.directory.store import directory
from shared.clock import utcnow
from shared.envelope import Envelope
from shared.events import Event
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
        """Queues the event's notifications; returns how many (a redelivered event's are left
        out when the queue is written)."""
        appeal_id = getattr(event, "appeal_id", None)
        appeal = await copies(uow).facts(appeal_id) if appeal_id else None
        people, notifications = directory(uow), queue(uow)
        created = 0
        told: set[str] = set()
        for intent in decide(event, appeal):
            for who in await recipients.resolve(
                people, intent.audience, appeal, self.webhook_channels
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
                    route.medium,
                    intent.context,
                    language=self.language,
                    reveal_appellant=who.reveal_appellant,
                )
                quiet = waits_for_morning(
                    medium=route.medium, recipient=who.label, urgent=intent.urgent
                )
                morning = self.quiet.ends_after(self.clock()) if quiet and self.quiet else None
                notifications.add(
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
                created += 1
        if created and self.wake is not None:
            uow.on_commit(self.wake)
        return created
