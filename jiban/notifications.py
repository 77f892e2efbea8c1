"""`jiban notifications failed|resend`: the notifications notify gave up on, and putting them
back in its queue (notify's own resend, as `POST /v1/notifications/{id}/resend` does: a fresh
retry budget, the same id). The running delivery worker sends them at its next poll.

Addresses are shown masked (a phone as 138****5678, an e-mail as l***@example.com): enough to
tell which contact failed, not to use it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from jiban.failures import CommandError
from jiban.text_table import columns
from services.notify import tables
from services.notify.decisions.masking import mask_phone
from services.notify.deliveries import service, store
from shared.clock import utcnow
from shared.db import Database
from shared.settings import Settings
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import Medium, NotificationStatus

_ERROR_CHARS = 120


@dataclass(frozen=True)
class Failed:
    notification_id: UUID
    kind: str
    medium: str
    recipient: str
    address: str | None  # masked
    attempts: int
    last_error: str | None
    failed_at: datetime | None  # the last attempt's time


def mask_address(medium: str, address: str | None) -> str | None:
    if address is None:
        return None
    if medium == Medium.SMS:
        return mask_phone(address)
    local, at, domain = address.partition("@")
    if medium == Medium.EMAIL and at:
        return f"{local[:1]}***@{domain}"
    return "***"


async def failed(settings: Settings) -> list[Failed]:
    """Every failed notification, oldest first."""
    db = Database(settings)
    try:
        async with db.transaction() as session:
            query = store.log(status=NotificationStatus.FAILED).order_by(*store.LOG_ORDER)
            rows = (await session.execute(query)).all()
            attempts = await store.attempts_of(session, [r.notification_id for r in rows])
    finally:
        await db.dispose()
    return [
        Failed(
            notification_id=r.notification_id,
            kind=r.kind,
            medium=r.medium,
            recipient=r.recipient,
            address=mask_address(r.medium, r.address),
            attempts=r.attempts,
            last_error=r.last_error,
            failed_at=tried[-1].at if (tried := attempts[r.notification_id]) else None,
        )
        for r in rows
    ]


def format_failed(found: list[Failed]) -> str:
    rows = [("ID", "KIND", "MEDIUM", "RECIPIENT", "ADDRESS", "ATTEMPTS", "FAILED (UTC)", "ERROR")]
    for f in found:
        error = " ".join((f.last_error or "").split())
        rows.append(
            (
                str(f.notification_id),
                f.kind,
                f.medium,
                f.recipient,
                f.address or "-",
                str(f.attempts),
                f"{f.failed_at:%Y-%m-%d %H:%M:%S}" if f.failed_at else "-",
                error[:_ERROR_CHARS] + ("…" if len(error) > _ERROR_CHARS else ""),
            )
        )
    return "\n".join([*columns(rows, right=frozenset({5})), f"{len(found)} failed notifications"])


@dataclass(frozen=True)
class Resent:
    resent: list[UUID]
    # Asked for by id, and not resent: why (no such notification, not failed).
    refused: dict[UUID, str]


async def _failed_ids(db: Database) -> list[UUID]:
    query = store.log(status=NotificationStatus.FAILED).order_by(*store.LOG_ORDER)
    async with db.transaction() as session:
        found = await session.scalars(
            query.with_only_columns(tables.notifications.c.notification_id)
        )
        return list(found.all())


async def resend(settings: Settings, ids: Sequence[UUID] | None) -> Resent:
    """Resends the given notifications, or every failed one (`ids` None)."""
    db = Database(settings)
    units = UnitsOfWork.of(db, tables.metadata, producer="notify")
    done = Resent([], {})
    try:
        for notification_id in ids if ids is not None else await _failed_ids(db):
            try:
                # The worker runs elsewhere: it finds the row at its next poll.
                await service.resend(units, notification_id, utcnow(), lambda: None)
            except service.UnknownNotification:
                done.refused[notification_id] = "no such notification"
            except service.NotResendable as refused:
                # With --all-failed: another operator resent it meanwhile, nothing to say.
                if ids is not None:
                    done.refused[notification_id] = f"it is {refused.status}, not failed"
            else:
                done.resent.append(notification_id)
    finally:
        await db.dispose()
    return done


def format_resent(done: Resent) -> str:
    lines = [f"resent {i}" for i in done.resent]
    return "\n".join([*lines, f"{len(done.resent)} notifications resent"])


def refusals(done: Resent) -> CommandError | None:
    """The one line for the ids asked for and not resent (after the others were)."""
    if not done.refused:
        return None
    return CommandError(
        "not resent: " + ", ".join(f"{i} ({why})" for i, why in done.refused.items())
    )
