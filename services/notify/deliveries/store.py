"""The delivery queue (notify.notifications and their attempts): notifications are queued by the
decisions, claimed, leased and recorded by the delivery worker, listed and resent by ops."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.tables import notification_attempts, notifications
from shared import tracing
from shared.vocabulary import NotificationStatus

# Statuses the delivery worker picks up when their time has come.
WAITING = (NotificationStatus.PENDING, NotificationStatus.DEFERRED)


async def add_notification(
    session: AsyncSession,
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
) -> bool:
    """False when this (event, recipient, medium) was already decided (a redelivery)."""
    values: dict[str, Any] = {
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
    }
    if not_before is not None:
        values["next_attempt_at"] = not_before
    result = await session.execute(
        insert(notifications)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_notifications_once")
        .returning(notifications.c.notification_id)
    )
    return result.first() is not None


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> Sequence[Any]:
    """Notifications whose time has come that no other notify replica is working on."""
    return (
        await session.execute(
            select(notifications)
            .where(notifications.c.status.in_(WAITING), notifications.c.next_attempt_at <= now)
            .order_by(notifications.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def lease(
    session: AsyncSession, notification_ids: Sequence[UUID], until: datetime, lease_id: UUID
) -> None:
    """Nobody else picks these up before `until`: they are being sent by the claim `lease_id`."""
    await session.execute(
        update(notifications)
        .where(notifications.c.notification_id.in_(notification_ids))
        .values(next_attempt_at=until, lease_id=lease_id)
    )


async def postpone(session: AsyncSession, notification_id: UUID, until: datetime) -> None:
    """Not an attempt: quiet hours began, or the provider's rate limit is spent."""
    await session.execute(
        update(notifications)
        .where(notifications.c.notification_id == notification_id)
        .values(status=NotificationStatus.DEFERRED, next_attempt_at=until)
    )


async def record_attempt(
    session: AsyncSession,
    row: Any,
    *,
    lease_id: UUID | None,
    at: datetime,
    status: NotificationStatus,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
) -> int | None:
    """One try and its outcome: sent, pending again (`next_attempt_at`), or failed. `row` is the
    notification as claimed, `lease_id` the claim's lease (None: it was never leased); the
    outcome is recorded only while that lease still holds the row (and it still waits), and the
    attempt's number is counted here, under the row's lock.
    Returns that number, or None when the claim no longer holds the row (it was leased again,
    recorded, or failed and resent since): then nothing is written, and nothing clashes."""
    values: dict[str, Any] = {
        "status": status,
        "attempts": notifications.c.attempts + 1,
        "attempts_since_resend": notifications.c.attempts_since_resend + 1,
        "last_error": error,
        "sent_at": at if status == NotificationStatus.SENT else None,
        "lease_id": None,
    }
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    attempt: int | None = await session.scalar(
        update(notifications)
        .where(
            notifications.c.notification_id == row.notification_id,
            notifications.c.lease_id.is_not_distinct_from(lease_id),
            notifications.c.status.in_(WAITING),
        )
        .values(**values)
        .returning(notifications.c.attempts)
    )
    if attempt is None:
        return None
    outcome = {
        NotificationStatus.SENT: "sent",
        NotificationStatus.FAILED: "failed",
    }.get(status, "retry")
    await session.execute(
        insert(notification_attempts).values(
            notification_id=row.notification_id,
            attempt=attempt,
            at=at,
            outcome=outcome,
            error=error,
        )
    )
    return attempt


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
