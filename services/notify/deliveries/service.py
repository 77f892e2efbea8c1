"""What ops do with the delivery queue: resend a notification that failed, in a unit of work
that wakes the delivery worker once it has committed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notify.deliveries import store
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import NotificationStatus


class UnknownNotification(LookupError):
    """No notification has this id."""


class NotResendable(ValueError):
    """Only a failed notification can be resent."""

    def __init__(self, status: str) -> None:
        super().__init__(f"only a failed notification can be resent; this one is {status}")
        self.status = status


async def resend(
    units: UnitsOfWork, notification_id: UUID, now: datetime, wake: Callable[[], None]
) -> tuple[Any, list[Any]]:
    """Puts a failed notification back in the queue with a fresh retry budget and the same id
    (a receiver that got an earlier attempt drops the repeat). Returns it as it now is, with its
    attempts."""
    async with units.begin() as uow:
        before = await store.resend(uow.session, notification_id, now)
        if before is None:
            raise UnknownNotification(notification_id)
        if before.status != NotificationStatus.FAILED:
            raise NotResendable(before.status)
        after = await store.notification(uow.session, notification_id)
        attempts = await store.attempts_of(uow.session, [notification_id])
        uow.on_commit(wake)
    return after, attempts[notification_id]
