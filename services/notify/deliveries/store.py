"""The delivery queue (notify.notifications and their attempts): notifications are queued by the
decisions, claimed, leased and recorded by the delivery worker, listed and resent by ops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    DateTime,
    Integer,
    Select,
    String,
    any_,
    bindparam,
    column,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.tables import notification_attempts, notifications
from shared import tracing
from shared.unit_of_work import UnitOfWork
from shared.vocabulary import NotificationStatus

# Statuses the delivery worker picks up when their time has come.
WAITING = (NotificationStatus.PENDING, NotificationStatus.DEFERRED)

_N = notifications.c
_UUIDS = ARRAY(PgUUID(as_uuid=True))
_WHEN = DateTime(timezone=True)
# Written out, not bound: the due index's own predicate, so every plan can use that index.
_WAITING = _N.status.in_([literal_column(f"'{status.value}'") for status in WAITING])

# --- queueing -----------------------------------------------------------------------------------

# Without a time of its own, a notification is due at once (the transaction's time, as the
# column's default).
_ADD = insert(notifications).values(
    next_attempt_at=func.coalesce(bindparam("not_before", type_=_WHEN), func.now())
)
# Once per (event, recipient, medium, kind): a redelivered event adds nothing.
ADD_MANY = _ADD.on_conflict_do_nothing(constraint="uq_notifications_once")


def notification_values(
    *,
    event_id: UUID,
    appeal_id: UUID | None,
    recipient: str,
    medium: str,
    kind: str,
    language: str,
    subject: str | None,
    body: str,
    address: str | None,
    quiet_hours: bool = False,
    status: NotificationStatus = NotificationStatus.PENDING,
    not_before: datetime | None = None,
) -> dict[str, Any]:
    """A new notification's row (ADD_MANY's parameters)."""
    return {
        "notification_id": uuid4(),
        "event_id": event_id,
        "appeal_id": appeal_id,
        "recipient": recipient,
        "medium": medium,
        "kind": kind,
        "status": status,
        "language": language,
        "subject": subject,
        "body": body,
        "address": address,
        "quiet_hours": quiet_hours,
        # The span deciding it (a consumer's), for the send to continue the trace.
        "traceparent": tracing.traceparent(),
        "not_before": not_before,
    }


class NotificationQueue:
    """A unit of work's new notifications, added in one statement when it ends."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._rows: list[dict[str, Any]] = []

    def add(self, **values: Any) -> None:
        """Queues a notification (`notification_values`' arguments); one already decided (a
        redelivery) is left out when written."""
        self._rows.append(notification_values(**values))

    async def flush(self) -> None:
        rows, self._rows = self._rows, []
        if rows:
            await self.session.execute(ADD_MANY, rows)


def queue(uow: UnitOfWork) -> NotificationQueue:
    """The unit of work's new notifications (one queue per unit of work)."""
    return uow.attached(NotificationQueue, lambda: NotificationQueue(uow.session))


# --- the delivery worker's round ----------------------------------------------------------------

CLAIM_DUE = (
    select(notifications)
    .where(_WAITING, _N.next_attempt_at <= bindparam("now", type_=_WHEN))
    .order_by(_N.next_attempt_at)
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
)
LEASE = (
    update(notifications)
    .where(_N.notification_id == any_(bindparam("ids", type_=_UUIDS)))
    .values(next_attempt_at=bindparam("until", type_=_WHEN), lease_id=bindparam("lease_id"))
)
_POSTPONED = (
    func.unnest(bindparam("ids", type_=_UUIDS), bindparam("untils", type_=ARRAY(_WHEN)))
    .table_valued(column("id", PgUUID(as_uuid=True)), column("until", _WHEN))
    .render_derived(name="p")
)
POSTPONE = (
    update(notifications)
    .where(_N.notification_id == _POSTPONED.c.id)
    .values(status=NotificationStatus.DEFERRED.value, next_attempt_at=_POSTPONED.c.until)
)


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> Sequence[Any]:
    """Notifications whose time has come that no other notify replica is working on."""
    return (await session.execute(CLAIM_DUE, {"now": now, "limit": limit})).all()


async def lease(
    session: AsyncSession, notification_ids: Sequence[UUID], until: datetime, lease_id: UUID
) -> None:
    """Nobody else picks these up before `until`: they are being sent by the claim `lease_id`."""
    await session.execute(
        LEASE, {"ids": list(notification_ids), "until": until, "lease_id": lease_id}
    )


async def postpone(session: AsyncSession, until: dict[UUID, datetime]) -> None:
    """Not an attempt: quiet hours began, or the provider's rate limit is spent (each
    notification until its own time)."""
    if until:
        await session.execute(POSTPONE, {"ids": list(until), "untils": list(until.values())})


@dataclass(frozen=True)
class Attempt:
    """One try's outcome: sent, pending again (`retry_at`), or failed. `lease_id` is the lease
    of the claim that made it (None: it was never leased)."""

    notification_id: UUID
    lease_id: UUID | None
    status: NotificationStatus
    error: str | None = None
    retry_at: datetime | None = None

    @property
    def outcome(self) -> str:
        return {
            NotificationStatus.SENT: "sent",
            NotificationStatus.FAILED: "failed",
        }.get(self.status, "retry")


_OUTCOMES = (
    func.unnest(
        bindparam("ids", type_=_UUIDS),
        bindparam("leases", type_=_UUIDS),
        bindparam("statuses", type_=ARRAY(String())),
        bindparam("outcomes", type_=ARRAY(String())),
        bindparam("errors", type_=ARRAY(String())),
        bindparam("sent_at", type_=ARRAY(_WHEN)),
        bindparam("retry_at", type_=ARRAY(_WHEN)),
    )
    .table_valued(
        column("id", PgUUID(as_uuid=True)),
        column("lease", PgUUID(as_uuid=True)),
        column("status", String()),
        column("outcome", String()),
        column("error", String()),
        column("sent_at", _WHEN),
        column("retry_at", _WHEN),
    )
    .render_derived(name="o")
)


def _record_attempts() -> Any:
    # The outcome lands only while its claim's lease still holds the row (and it still waits);
    # the attempt's number is counted under the row's lock, and the attempt is logged by the
    # same statement.
    o = _OUTCOMES.c
    recorded = (
        update(notifications)
        .where(
            _N.notification_id == o.id,
            _N.lease_id.is_not_distinct_from(o.lease),
            _WAITING,
        )
        .values(
            status=o.status,
            attempts=_N.attempts + 1,
            attempts_since_resend=_N.attempts_since_resend + 1,
            last_error=o.error,
            sent_at=o.sent_at,
            lease_id=None,
            next_attempt_at=func.coalesce(o.retry_at, _N.next_attempt_at),
        )
        .returning(_N.notification_id, _N.attempts, o.outcome, o.error)
        .cte("recorded")
    )
    return (
        insert(notification_attempts)
        .from_select(
            ["notification_id", "attempt", "at", "outcome", "error"],
            select(
                recorded.c.notification_id,
                recorded.c.attempts,
                bindparam("at", type_=_WHEN),
                recorded.c.outcome,
                recorded.c.error,
            ),
        )
        .returning(notification_attempts.c.notification_id, notification_attempts.c.attempt)
    )


RECORD_ATTEMPTS = _record_attempts()


async def record_attempts(
    session: AsyncSession, attempts: Sequence[Attempt], at: datetime
) -> dict[UUID, int]:
    """A round's tries and their outcomes, in one statement. Returns each recorded one's
    attempt number; one missing had its claim no longer hold the row (it was leased again,
    recorded, or failed and resent since): nothing is written for it, and nothing clashes."""
    if not attempts:
        return {}
    rows = await session.execute(
        RECORD_ATTEMPTS,
        {
            "ids": [a.notification_id for a in attempts],
            "leases": [a.lease_id for a in attempts],
            "statuses": [a.status.value for a in attempts],
            "outcomes": [a.outcome for a in attempts],
            "errors": [a.error for a in attempts],
            "sent_at": [at if a.status == NotificationStatus.SENT else None for a in attempts],
            "retry_at": [a.retry_at for a in attempts],
            "at": at,
        },
    )
    return {row.notification_id: row.attempt for row in rows}


async def resend(session: AsyncSession, notification_id: UUID, now: datetime) -> Any:
    """A failed notification goes back in the queue with a fresh retry budget. Returns the row
    as it was (None: no such notification); only a failed one is changed."""
    row = (
        await session.execute(
            select(notifications)
            .where(notifications.c.notification_id == notification_id)
            .with_for_update()
        )
    ).first()
    if row is not None and row.status == NotificationStatus.FAILED:
        await session.execute(
            update(notifications)
            .where(notifications.c.notification_id == notification_id)
            .values(
                status=NotificationStatus.PENDING,
                attempts_since_resend=0,
                next_attempt_at=now,
                lease_id=None,
            )
        )
    return row


# The delivery log's order: oldest first (keyset pages).
LOG_ORDER = [notifications.c.created_at, notifications.c.notification_id]


def log(
    *,
    appeal_id: UUID | None = None,
    recipient: str | None = None,
    status: NotificationStatus | None = None,
) -> Select[Any]:
    """The delivery log, narrowed to what was asked for."""
    query = select(notifications)
    if appeal_id is not None:
        query = query.where(notifications.c.appeal_id == appeal_id)
    if recipient is not None:
        query = query.where(notifications.c.recipient == recipient)
    if status is not None:
        query = query.where(notifications.c.status == status)
    return query


async def notification(session: AsyncSession, notification_id: UUID) -> Any:
    return (
        await session.execute(
            select(notifications).where(notifications.c.notification_id == notification_id)
        )
    ).first()


async def attempts_of(session: AsyncSession, ids: Sequence[UUID]) -> dict[UUID, list[Any]]:
    if not ids:
        return {}
    rows = (
        await session.execute(
            select(notification_attempts)
            .where(notification_attempts.c.notification_id.in_(ids))
            .order_by(notification_attempts.c.notification_id, notification_attempts.c.attempt)
        )
    ).all()
    found: dict[UUID, list[Any]] = {i: [] for i in ids}
    for row in rows:
        found[row.notification_id].append(row)
    return found


# States the metrics count (sent ones only pile up: the delivery log shows those).
COUNTED = (NotificationStatus.PENDING, NotificationStatus.DEFERRED, NotificationStatus.FAILED)


async def count_by_status(session: AsyncSession) -> dict[NotificationStatus, int]:
    """How many notifications are pending, deferred and failed (0 for a state with none)."""
    rows = await session.execute(
        select(notifications.c.status, func.count())
        .where(notifications.c.status.in_(COUNTED))
        .group_by(notifications.c.status)
    )
    found = {NotificationStatus(status): int(n) for status, n in rows.all()}
    return {status: found.get(status, 0) for status in COUNTED}
