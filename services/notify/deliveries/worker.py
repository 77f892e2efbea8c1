"""The delivery worker: sends due notifications through their medium's provider.

Deciding (in the consumers) and sending (here) are apart, and a retry waits in the row's
`next_attempt_at`, never in a sleeping consumer: a provider that is down for ten minutes delays
its messages, it does not stop the topics being consumed.

A round has three steps, so that no transaction stays open across the network:
1. claim due rows (SKIP LOCKED: several notify replicas share the work) and lease them, in a
   short transaction;
2. send, concurrently, outside any transaction, each send held to its provider's bound
   (`max_send_s`) whatever the provider does;
3. record the outcomes (and the NotificationSent / NotificationFailed events, through the
   outbox) in one transaction.
Each step is one statement per table for the whole round (claim, postpone, lease, record the
attempts), not one per notification.
The lease outlasts the slowest send any provider allows plus the time to record the outcomes,
so nobody sends a row again while its claim may still record it. A crash between 2 and 3 leaves
the rows leased; when the lease runs out they are sent again with the same delivery id (the
notification id), which receivers use to drop the repeat. Each lease names its claim, and an
outcome is recorded only while its claim still holds the row: a claim that stalled past its
lease (the row leased again, recorded, or failed and resent meanwhile) has its outcome dropped,
and the rest of its batch stands.
The recording provider (development) writes into this database: its messages are recorded in
the claiming transaction itself, once, with no lease to wait out after a crash."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

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
from shared import tracing
from shared.clock import utcnow
from shared.events import NotificationFailed, NotificationSent
from shared.logs import about_appeal
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from shared.vocabulary import Medium, NotificationStatus
from shared.worker import StateWorker

log = logging.getLogger(__name__)

# What a lease holds beyond the batch's sends: the time to record their outcomes.
RECORDING_MARGIN = timedelta(seconds=15)
# How long a message the rate limit held back waits before it is looked at again.
RATE_LIMITED_WAIT = timedelta(seconds=1)

STALE_OUTCOMES = Counter(
    "jiban_notify_stale_outcomes_total",
    "Delivery outcomes dropped: their claim no longer held the notification when it recorded",
    ["medium"],
)


def send_window_s(providers: Mapping[Medium, Provider]) -> float:
    """The longest a send that leaves the process may take, with these providers."""
    return max((p.max_send_s for p in providers.values() if not p.needs_session), default=0.0)


@dataclass(frozen=True)
class Outcome:
    row: Any
    error: DeliveryError | None = None
    # The send's span (tracing on): recording the outcome continues its trace.
    span: Span | None = None


@dataclass
class Claim:
    """One round's claim: the rows it leased for sending, under one lease id, and how many it
    did in its own transaction (held back, or recorded in this database)."""

    lease_id: UUID = field(default_factory=uuid4)
    leased: list[Any] = field(default_factory=list)
    done: int = 0


def _appeal(row: Any) -> str | None:
    return str(row.appeal_id) if row.appeal_id is not None else None


def _mark(span: Span | None, error: DeliveryError | None) -> None:
    """The send's outcome on its span: sent, or the provider's error."""
    if span is None:
        return
    if error is None:
        span.set_attribute("jiban.outcome", "sent")
        return
    span.set_attribute("jiban.outcome", "retry" if error.transient else "failed")
    span.set_status(Status(StatusCode.ERROR, str(error)[:300]))


def _forget(sending: asyncio.Future[None]) -> None:
    """Retrieves what a send given up on ended with (nobody waits for it any more)."""
    if not sending.cancelled():
        sending.exception()


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
        # Every send of a round ends within this window after the claim began…
        self.send_window_s = send_window_s(providers)
        # …and the lease lasts longer still, until its outcomes are recorded.
        self.lease = timedelta(seconds=self.send_window_s) + RECORDING_MARGIN

    async def stop(self) -> None:
        await super().stop()
        for provider in self.providers.values():
            await provider.aclose()

    async def round(self) -> int:
        claim = await self._claim()
        # From the claim's end: a claim slowed by a busy database must not eat into the
        # providers' bounds (the lease holds RECORDING_MARGIN beyond the window for that).
        sends_end = time.monotonic() + self.send_window_s
        if claim.leased:
            outcomes = await asyncio.gather(*(self._send(row, sends_end) for row in claim.leased))
            async with self.units.begin() as uow:
                await self._finish(uow, [(o, claim.lease_id) for o in outcomes], self.clock())
        return claim.done + len(claim.leased)

    async def _claim(self) -> Claim:
        """Takes the due rows. Those the quiet hours or a rate limit hold back wait; those a
        provider keeps in this database (the recording provider) are done here and now, in this
        transaction (nothing leaves the process, so nothing needs a lease); the rest are leased
        for sending. One statement per table for the whole round, not one per row."""
        now = self.clock()
        claim = Claim()
        async with self.units.begin() as uow:
            session = uow.session
            rows = await store.claim_due(session, now, self.batch_size)
            morning = self.quiet.ends_after(now) if self.quiet and rows else None
            postponed: dict[UUID, datetime] = {}
            here: dict[Medium, list[Any]] = {}
            for row in rows:
                if row.quiet_hours and morning is not None:
                    postponed[row.notification_id] = morning
                    continue
                provider = self.providers.get(Medium(row.medium))
                limit = provider.rate_limit if provider is not None else None
                if limit is not None and not limit.try_acquire(time.monotonic()):
                    postponed[row.notification_id] = now + RATE_LIMITED_WAIT
                    continue
                if provider is not None and provider.needs_session:
                    here.setdefault(Medium(row.medium), []).append(row)
                    continue
                claim.leased.append(row)
            await store.postpone(session, postponed)
            done: list[tuple[Outcome, UUID | None]] = []
            for medium, group in here.items():
                # Under this transaction's lock: whatever lease a row had is this claim's.
                outcomes = await self._send_here(session, self.providers[medium], group)
                done.extend((outcome, outcome.row.lease_id) for outcome in outcomes)
            await self._finish(uow, done, now)
            claim.done = len(done)
            if claim.leased:
                await store.lease(
                    session,
                    [row.notification_id for row in claim.leased],
                    now + self.lease,
                    claim.lease_id,
                )
        return claim

    async def _send_here(
        self, session: AsyncSession, provider: Provider, rows: list[Any]
    ) -> list[Outcome]:
        """Sends through a provider that writes in this transaction, the round's rows at once,
        each in its own span (they all cover the one send)."""
        with ExitStack() as sending:
            spans = [sending.enter_context(self._delivering(row)) for row in rows]
            errors = await provider.send_all(session, [self._delivery(row) for row in rows])
            for span, error in zip(spans, errors, strict=True):
                _mark(span, error)
        return [
            Outcome(row, error, span) for row, error, span in zip(rows, errors, spans, strict=True)
        ]

    @contextmanager
    def _delivering(self, row: Any) -> Iterator[Span | None]:
        """One notification's send: a span of the trace it was decided in (the row keeps its
        traceparent; none, a trace of its own), its log lines naming its appeal."""
        carried = {tracing.TRACEPARENT: row.traceparent} if row.traceparent else {}
        with (
            about_appeal(_appeal(row)),
            tracing.span(
                self.units.producer,
                f"deliver {row.kind} by {row.medium}",
                kind=SpanKind.CLIENT,
                parent=carried,
                attributes={
                    "jiban.notification_id": str(row.notification_id),
                    "jiban.appeal_id": _appeal(row) or "",
                    "jiban.recipient": row.recipient,
                    "jiban.medium": row.medium,
                    "jiban.kind": row.kind,
                    "jiban.attempt": row.attempts + 1,
                },
            ) as span,
        ):
            yield span

    async def _send(self, row: Any, sends_end: float) -> Outcome:
        with self._delivering(row) as span:
            outcome = await self._send_bounded(row, sends_end)
            _mark(span, outcome.error)
        return replace(outcome, span=span)

    async def _send_bounded(self, row: Any, sends_end: float) -> Outcome:
        """One send, given up on at its provider's bound (and within the round's send window)
        even if the provider does not return when cancelled."""
        provider = self.providers.get(Medium(row.medium))
        if provider is None:
            return Outcome(row, PermanentDeliveryError(f"no provider for medium {row.medium}"))
        bound_s = max(0.0, min(provider.max_send_s, sends_end - time.monotonic()))
        sending = asyncio.ensure_future(provider.send(None, self._delivery(row)))
        try:
            await asyncio.wait({sending}, timeout=bound_s)
        finally:
            if not sending.done():
                sending.cancel()
                sending.add_done_callback(_forget)
        if not sending.done():
            return Outcome(
                row,
                TransientDeliveryError(f"{provider.name} gave no answer within {bound_s:.1f} s"),
            )
        failure = sending.exception()
        if failure is None:
            return Outcome(row)
        if isinstance(failure, DeliveryError):
            return Outcome(row, failure)
        # A provider's bug must not stop the others: retry it.
        log.error("provider raised", exc_info=failure, extra={"medium": row.medium})
        return Outcome(row, DeliveryError(f"{type(failure).__name__} in provider"))

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

    def _attempt(
        self, row: Any, lease_id: UUID | None, error: DeliveryError | None, now: datetime
    ) -> store.Attempt:
        """What one try comes to: sent; failed for good (a permanent error, or the retry budget
        spent); or pending again, when the retry policy (and the receiver's Retry-After, and the
        quiet hours) say."""
        if error is None:
            return store.Attempt(row.notification_id, lease_id, NotificationStatus.SENT)
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
        return store.Attempt(row.notification_id, lease_id, status, message, retry_at)

    async def _finish(
        self, uow: UnitOfWork, outcomes: list[tuple[Outcome, UUID | None]], now: datetime
    ) -> None:
        """Records the tries' outcomes (each with the lease of the claim that made it), in one
        statement, and announces them (through the outbox), except those whose claim no longer
        holds the row."""
        attempts = [self._attempt(o.row, lease_id, o.error, now) for o, lease_id in outcomes]
        recorded = await store.record_attempts(uow.session, attempts, now)
        for (outcome, _), attempt in zip(outcomes, attempts, strict=True):
            row = outcome.row
            with tracing.within(outcome.span), about_appeal(_appeal(row)):
                number = recorded.get(row.notification_id)
                if number is None:
                    self._stale(row)
                elif attempt.status == NotificationStatus.SENT:
                    await self._announce(uow, row, NotificationSent, sent_at=now)
                else:
                    await self._failed(uow, row, attempt, number, now)

    @staticmethod
    def _stale(row: Any) -> None:
        STALE_OUTCOMES.labels(row.medium).inc()
        log.warning(
            "delivery outcome dropped: the notification was leased again, recorded or resent "
            "before this claim recorded it",
            extra={"notification_id": str(row.notification_id), "medium": row.medium},
        )

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

    async def _failed(
        self, uow: UnitOfWork, row: Any, attempt: store.Attempt, number: int, now: datetime
    ) -> None:
        final = attempt.status == NotificationStatus.FAILED
        log.warning(
            "delivery failed",
            extra={
                "notification_id": str(row.notification_id),
                "medium": row.medium,
                "attempt": number,
                "final": final,
                "error": attempt.error,
            },
        )
        if final:
            await self._announce(
                uow,
                row,
                NotificationFailed,
                attempts=number,
                error=attempt.error or "",
                failed_at=now,
            )
