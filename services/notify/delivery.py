"""The delivery worker: sends pending notifications through their medium's provider.

Deciding (in the consumer) and sending (here) are apart, so a slow or failing provider never
holds up the topic. Several notify replicas share the work: each claims rows with SKIP LOCKED.
Each delivery puts a NotificationSent in notify's outbox in the transaction that records it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from services.notify import store
from services.notify.providers import Delivery, Provider
from shared.db import Database
from shared.events import NotificationSent
from shared.failures import is_transient
from shared.outbox import Outbox
from shared.vocabulary import Medium, NotificationStatus
from shared.worker import PollingWorker

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
SERVICE = "notify"


class DeliveryWorker(PollingWorker):
    name = "notify-delivery"

    def __init__(
        self,
        db: Database,
        providers: dict[Medium, Provider],
        outbox: Outbox,
        *,
        after_commit: Sequence[Callable[[], None]] = (),
        batch_size: int = 100,
        poll_interval_s: float = 0.25,
        max_backoff_s: float = 10.0,
    ) -> None:
        super().__init__(
            batch_size=batch_size, poll_interval_s=poll_interval_s, max_backoff_s=max_backoff_s
        )
        self.db = db
        self.providers = providers
        self.outbox = outbox
        # The relay's wake: the NotificationSent events leave now, not at its next poll.
        self.after_commit = list(after_commit)

    async def round(self) -> int:
        sent = 0
        async with self.db.transaction() as session:
            rows = await store.claim_pending(session, self.batch_size)
            for row in rows:
                provider = self.providers.get(Medium(row.medium))
                delivery = Delivery(row.notification_id, row.recipient, row.kind, row.body)
                try:
                    if provider is None:
                        raise LookupError(f"no provider for medium {row.medium}")
                    async with session.begin_nested():
                        await provider.send(session, delivery)
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    failed = row.attempts + 1 >= MAX_ATTEMPTS
                    await store.mark(
                        session,
                        row.notification_id,
                        NotificationStatus.FAILED if failed else NotificationStatus.PENDING,
                        f"{type(exc).__name__}: {exc}"[:500],
                    )
                    log.warning(
                        "delivery failed",
                        extra={
                            "notification_id": str(row.notification_id),
                            "medium": row.medium,
                            "attempt": row.attempts + 1,
                            "final": failed,
                        },
                    )
                    continue
                sent_at = await store.mark(session, row.notification_id, NotificationStatus.SENT)
                assert sent_at is not None  # marked sent just now
                await self.outbox.put_event(
                    session,
                    NotificationSent(
                        notification_id=row.notification_id,
                        appeal_id=row.appeal_id,
                        recipient=row.recipient,
                        medium=Medium(row.medium),
                        kind=row.kind,
                        sent_at=sent_at,
                    ),
                    # The row does not keep the request's correlation id; the event that caused
                    # the notification is the next best thread to pull.
                    correlation_id=str(row.event_id),
                    producer=SERVICE,
                )
                sent += 1
        if sent:
            for callback in self.after_commit:
                callback()
        return len(rows)
