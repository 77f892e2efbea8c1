"""Notify's tables (schema `notify`): the notifications with their attempts, what the recording
provider recorded, and notify's own copies of what it needs to reach people: the appeals'
appellants and channels, the officers' contacts, the enterprises' CSOs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import service_metadata
from shared.inbox import inbox_table
from shared.outbox import outbox_table
from shared.vocabulary import NotificationStatus

SCHEMA = "notify"
metadata = service_metadata(SCHEMA)

# Statuses the delivery worker picks up when their time has come.
WAITING = (NotificationStatus.PENDING, NotificationStatus.DEFERRED)

notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", PgUUID(as_uuid=True), primary_key=True),
    Column("event_id", PgUUID(as_uuid=True), nullable=False),
    Column("appeal_id", PgUUID(as_uuid=True), index=True),
    Column("recipient", String(100), nullable=False),
    Column("medium", String(16), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("language", String(8), nullable=False, server_default="zh-CN"),
    Column("subject", Text),
    Column("body", Text, nullable=False),
    # The phone or e-mail address it goes to, as known when it was decided; never in an answer
    # of the API or a log line (the recipient label says who).
    Column("address", Text),
    # Whether it waits out the quiet hours (a non-urgent SMS to the appellant).
    Column("quiet_hours", Boolean, nullable=False, server_default="false"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # Attempts since the last resend: the retry budget counts these.
    Column("attempts_since_resend", Integer, nullable=False, server_default="0"),
    Column("last_error", String(500)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True)),
    # Once per (event, recipient, medium, kind), however often the event is delivered (one
    # event can mean two messages to one person: resolved, and how satisfied are you?).
    UniqueConstraint("event_id", "recipient", "medium", "kind", name="uq_notifications_once"),
    Index(
        "ix_notifications_due",
        "next_attempt_at",
        postgresql_where=text("status IN ('pending', 'deferred')"),
    ),
)

notification_attempts = Table(
    "notification_attempts",
    metadata,
    Column(
        "notification_id",
        PgUUID(as_uuid=True),
        ForeignKey("notifications.notification_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("attempt", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(16), nullable=False),  # sent | retry | failed
    Column("error", String(500)),
)

recorded_messages = Table(
    "recorded_messages",
    metadata,
    Column("notification_id", PgUUID(as_uuid=True), primary_key=True),
    Column("recipient", String(100), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# What notify knows of each appeal, from the appeal events (they arrive in any order: each
# event fills what it knows and leaves the rest).
appeals = Table(
    "appeals",
    metadata,
    Column("appeal_id", PgUUID(as_uuid=True), primary_key=True),
    Column("tracking_code", String(64)),
    Column("channel", String(32)),
    Column("external_id", String(200)),
    Column("anonymous", Boolean, nullable=False, server_default="false"),
    Column("appellant_name", String(200)),
    Column("appellant_phone", String(32)),
    Column("urgency", String(16), nullable=False, server_default="normal"),
    Column("enterprise_credit_code", String(18)),
    Column("officer_id", String(64)),
    Column("assistant_officer_ids", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    # The time of the assignment event that set officer_id: a late, older one does not win.
    Column("assigned_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

officers = Table(
    "officers",
    metadata,
    Column("officer_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(64), nullable=False),
    Column("unit", String(200), nullable=False),
    Column("supervisor_id", String(64)),
    Column("paired_officer_id", String(64)),
    Column("phone", String(32)),
    Column("email", String(320)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_officers_unit_role", "unit", "role"),
)

enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("cso_officer_id", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Status changes heard before the appeal's receipt (another topic, consumed apart): who they
# concern (the appellant, the submitting channel) is only known from the receipt, so they wait
# here and are decided when it comes.
waiting_events = Table(
    "waiting_events",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("appeal_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("envelope", Text, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


# --- notifications ---------------------------------------------------------------------------


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
    at: datetime,
    status: NotificationStatus,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    """One try and its outcome: sent, pending again (`next_attempt_at`), or failed."""
    attempt = row.attempts + 1
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
    values: dict[str, Any] = {
        "status": status,
        "attempts": attempt,
        "attempts_since_resend": row.attempts_since_resend + 1,
        "last_error": error,
        "sent_at": at if status == NotificationStatus.SENT else None,
    }
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    await session.execute(
        update(notifications)
        .where(notifications.c.notification_id == row.notification_id)
        .values(**values)
    )


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
            )
        )
    return row


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


# --- notify's copies: appeals, officers, enterprises ------------------------------------------


async def appeal(session: AsyncSession, appeal_id: UUID) -> Any:
    return (await session.execute(select(appeals).where(appeals.c.appeal_id == appeal_id))).first()


async def save_appeal(session: AsyncSession, appeal_id: UUID, **known: Any) -> None:
    """Fills what this event knows; leaves what it does not (None) as it was."""
    known = {k: v for k, v in known.items() if v is not None}
    statement = insert(appeals).values(appeal_id=appeal_id, **known)
    set_ = {k: statement.excluded[k] for k in known}
    set_["updated_at"] = func.now()
    await session.execute(statement.on_conflict_do_update(index_elements=["appeal_id"], set_=set_))


async def assign_appeal(
    session: AsyncSession,
    appeal_id: UUID,
    officer_id: str,
    assigned_at: datetime,
    tracking_code: str | None,
) -> None:
    """The officer now responsible; an older assignment heard late does not undo a newer one."""
    statement = insert(appeals).values(
        appeal_id=appeal_id,
        officer_id=officer_id,
        assigned_at=assigned_at,
        tracking_code=tracking_code,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["appeal_id"],
            set_={
                "officer_id": statement.excluded.officer_id,
                "assigned_at": statement.excluded.assigned_at,
                "tracking_code": func.coalesce(
                    appeals.c.tracking_code, statement.excluded.tracking_code
                ),
                "updated_at": func.now(),
            },
            where=or_(
                appeals.c.assigned_at.is_(None),
                appeals.c.assigned_at <= statement.excluded.assigned_at,
            ),
        )
    )


async def save_officer(session: AsyncSession, changed_at: datetime, **values: Any) -> None:
    """Upserts the officer as of `changed_at`; an older change heard late is ignored."""
    values["updated_at"] = changed_at
    statement = insert(officers).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["officer_id"],
            set_={c: statement.excluded[c] for c in values if c != "officer_id"},
            where=officers.c.updated_at <= statement.excluded.updated_at,
        )
    )


async def save_enterprise(
    session: AsyncSession, credit_code: str, cso_officer_id: str | None, changed_at: datetime
) -> None:
    statement = insert(enterprises).values(
        credit_code=credit_code, cso_officer_id=cso_officer_id, updated_at=changed_at
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["credit_code"],
            set_={"cso_officer_id": statement.excluded.cso_officer_id, "updated_at": changed_at},
            where=enterprises.c.updated_at <= statement.excluded.updated_at,
        )
    )


async def officer(session: AsyncSession, officer_id: str | None) -> Any:
    if officer_id is None:
        return None
    return (
        await session.execute(select(officers).where(officers.c.officer_id == officer_id))
    ).first()


async def unit_supervisors(session: AsyncSession, unit: str) -> list[str]:
    return list(
        (
            await session.scalars(
                select(officers.c.officer_id)
                .where(officers.c.unit == unit, officers.c.role == "supervisor")
                .order_by(officers.c.officer_id)
            )
        ).all()
    )


async def cso_of(session: AsyncSession, credit_code: str) -> str | None:
    return await session.scalar(
        select(enterprises.c.cso_officer_id).where(enterprises.c.credit_code == credit_code)
    )


async def notification(session: AsyncSession, notification_id: UUID) -> Any:
    return (
        await session.execute(
            select(notifications).where(notifications.c.notification_id == notification_id)
        )
    ).first()


async def park(session: AsyncSession, appeal_id: UUID, envelope_json: str) -> None:
    await session.execute(
        insert(waiting_events).values(appeal_id=appeal_id, envelope=envelope_json)
    )


async def unpark(session: AsyncSession, appeal_id: UUID) -> list[str]:
    """The envelopes that waited for this appeal's receipt, in the order they came; removed."""
    rows = (
        await session.execute(
            delete(waiting_events)
            .where(waiting_events.c.appeal_id == appeal_id)
            .returning(waiting_events.c.seq, waiting_events.c.envelope)
        )
    ).all()
    return [row.envelope for row in sorted(rows, key=lambda row: row.seq)]
