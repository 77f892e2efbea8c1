"""Notify's deliveries (`notifications.sent`)."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime

from shared.events.base import Event
from shared.topics import (
    NOTIFICATIONS_SENT,
)
from shared.vocabulary import (
    Medium,
)


class _NotificationEvent(Event):
    TOPIC: ClassVar[str] = NOTIFICATIONS_SENT

    notification_id: UUID
    # Every notification so far is about an appeal; one that is not is keyed by its own id.
    appeal_id: UUID | None
    recipient: str
    medium: Medium
    kind: str

    def subject(self) -> str:
        return str(self.appeal_id or self.notification_id)


class NotificationSent(_NotificationEvent):
    """A notification left through its medium's provider (recorded, for the `record` medium).
    Published by notify's delivery worker in the transaction that marks it sent."""

    TYPE: ClassVar[str] = "NotificationSent"

    sent_at: AwareDatetime


class NotificationFailed(_NotificationEvent):
    """A notification gave up: its provider refused it, or every retry failed. Ops can resend
    it (`POST /v1/notifications/{id}/resend` on notify); supervisors see who was not told."""

    TYPE: ClassVar[str] = "NotificationFailed"

    attempts: int
    error: str
    failed_at: AwareDatetime
