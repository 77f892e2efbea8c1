"""The delivery worker: sends due notifications through their medium's provider.

Deciding (in the consumers) and sending (here) are apart, and a retry waits in the row's
`next_attempt_at`, never in a sleeping consumer: a provider that is down for ten minutes delays
its messages, it does not stop the topics being consumed.

A round has three steps, so that no transaction stays open across the network:
1. claim due rows (SKIP LOCKED: several notify replicas share the work) and lease them, by moving
   `next_attempt_at` past the send's timeout, in a short transaction;
2. send, concurrently, outside any transaction;
3. record each outcome (and the NotificationSent / NotificationFailed event, through the outbox)
   in one transaction.
A crash between 2 and 3 leaves the rows leased; when the lease runs out they are sent again
with the same delivery id (the notification id), which receivers use to drop the repeat.
The recording provider (development) writes into this database: its messages are recorded in
the claiming transaction itself, once, with no lease to wait out after a crash."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.notify.deliveries import store
from services.notify.deliveries.quiet_hours import QuietHours
from services.notify.deliveries.retry import RetryPolicy
from services.notify.providers.base import (
    Delivery,
    DeliveryError,
    PermanentDeliveryError,
    Provider,
    TransientDeliveryError,
)
from shared.clock import utcnow
from shared.events import NotificationFailed, NotificationSent
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from shared.vocabulary import Medium, NotificationStatus
from shared.worker import StateWorker

log = logging.getLogger(__name__)

SERVICE = "notify"
# Longer than any provider's timeout (a send is bounded by it): a leased row is not picked up
# again while it is being sent; after a crash it waits this long before it is sent again.
LEASE = timedelta(seconds=60)
# How long a message the rate limit held back waits before it is looked at again.
RATE_LIMITED_WAIT = timedelta(seconds=1)


@dataclass(frozen=True)
class Outcome:
    row: Any
    error: DeliveryError | None = None


class DeliveryWorker(StateWorker):
    name = "notify-delivery"

    def __init__(
        self,
        units: UnitsOfWork,
        providers: dict[Medium, Provider],
        *,
        retry: RetryPolicy,
        quiet: QuietHours | None = None,
        batch_size: int = 50,
        poll_interval_s: float = 1.0,
        max_backoff_s: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(
            units,
            batch_size=batch_size,
            poll_interval_s=poll_interval_s,
            max_backoff_s=max_backoff_s,
        )
        self.providers = providers
        self.retry = retry
        self.quiet = quiet
        self.clock = clock

    async def stop(self) -> None:
        await super().stop()
        for provider in self.providers.values():
            await provider.aclose()

    async def round(self) -> int:
        recorded, leased = await self._claim()
        if leased:
            outcomes = await asyncio.gather(*(self._send(row) for row in leased))
            async with self.units.begin() as uow:
                for outcome in outcomes:
                    await self._finish(uow, outcome.row, outcome.error, self.clock())
        return recorded + len(leased)

    async def _claim(self) -> tuple[int, list[Any]]:
        """Takes the due rows. Those the quiet hours or a rate limit hold back wait; those a
        provider keeps in this database (the recording provider) are done here and now, in this
        transaction (nothing leaves the process, so nothing needs a lease); the rest are leased
        for sending. Returns (done here, leased)."""
        now = self.clock()
        leased: list[Any] = []
        recorded = 0
        async with self.units.begin() as uow:
            session = uow.session
            for row in await store.claim_due(session, now, self.batch_size):
                morning = self.quiet.ends_after(now) if row.quiet_hours and self.quiet else None
                if morning is not None:
                    await store.postpone(session, row.notification_id, morning)
                    continue
                provider = self.providers.get(Medium(row.medium))
                limit = provider.rate_limit if provider is not None else None
                if limit is not None and not limit.try_acquire(time.monotonic()):
                    await store.postpone(session, row.notification_id, now + RATE_LIMITED_WAIT)
                    continue
                if provider is not None and provider.needs_session:
                    error: DeliveryError | None = None
                    try:
                        async with session.begin_nested():
                            await provider.send(session, self._delivery(row))
                    except DeliveryError as exc:
                        error = exc
                    await self._finish(uow, row, error, now)
                    recorded += 1
                    continue
                leased.append(row)
            if leased:
                await store.lease(session, [row.notification_id for row in leased], now + LEASE)
        return recorded, leased

    async def _send(self, row: Any) -> Outcome:
        provider = self.providers.get(Medium(row.medium))
        if provider is None:
            return Outcome(row, PermanentDeliveryError(f"no provider for medium {row.medium}"))
        try:
            await provider.send(None, self._delivery(row))
        except DeliveryError as exc:
            return Outcome(row, exc)
        except Exception as exc:  # a provider's bug must not stop the others: retry it
            log.exception("provider raised", extra={"medium": row.medium})
            return Outcome(row, DeliveryError(f"{type(exc).__name__} in provider"))
        return Outcome(row)

    @staticmethod
    def _delivery(row: Any) -> Delivery:
        return Delivery(
            delivery_id=row.notification_id,
            recipient=row.recipient,
            address=row.address,
            kind=row.kind,
            subject=row.subject,
            body=row.body,
            attempt=row.attempts + 1,
        )

    async def _finish(
        self, uow: UnitOfWork, row: Any, error: DeliveryError | None, now: datetime
    ) -> None:
        """Records one attempt's outcome and announces it (through the outbox)."""
        if error is not None:
            await self._failed_attempt(uow, row, error, now)
            return
        await store.record_attempt(uow.session, row, at=now, status=NotificationStatus.SENT)
        await self._announce(uow, row, NotificationSent, sent_at=now)

    async def _announce(
        self,
        uow: UnitOfWork,
        row: Any,
        model: type[NotificationSent | NotificationFailed],
        **more: Any,
    ) -> None:
        await uow.publish(
            model(
                notification_id=row.notification_id,
                appeal_id=row.appeal_id,
                recipient=row.recipient,
                medium=Medium(row.medium),
                kind=row.kind,
                **more,
            ),
            # The row does not keep the request's correlation id; the event that caused the
            # notification is the next best thread to pull.
            correlation_id=str(row.event_id),
        )

    async def _failed_attempt(
        self, uow: UnitOfWork, row: Any, error: DeliveryError, now: datetime
    ) -> None:
        message = str(error)[:500]
        retry_at = (
            self.retry.next_attempt(row.attempts_since_resend + 1, now) if error.transient else None
        )
        wait = error.retry_after_s if isinstance(error, TransientDeliveryError) else None
        if retry_at is not None and wait:
            # The receiver said when to come back (Retry-After): not sooner.
            retry_at = max(retry_at, now + timedelta(seconds=wait))
        if retry_at is not None and row.quiet_hours and self.quiet:
            retry_at = self.quiet.ends_after(retry_at) or retry_at
        status = NotificationStatus.PENDING if retry_at else NotificationStatus.FAILED
        await store.record_attempt(
            uow.session, row, at=now, status=status, error=message, next_attempt_at=retry_at
        )
        log.warning(
            "delivery failed",
            extra={
                "notification_id": str(row.notification_id),
                "medium": row.medium,
                "attempt": row.attempts + 1,
                "final": retry_at is None,
                "error": message,
            },
        )
        if retry_at is None:
            await self._announce(
                uow,
                row,
                NotificationFailed,
                attempts=row.attempts + 1,
                error=message,
                failed_at=now,
            )
