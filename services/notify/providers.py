"""Delivery providers behind one interface. The recording provider (the development default)
keeps each message in notify's own table; real providers (SMS gateway, e-mail, webhook) come with
the notify issue and plug in here."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import store
from shared.vocabulary import Medium


@dataclass(frozen=True)
class Delivery:
    notification_id: UUID
    recipient: str
    kind: str
    body: str


class Provider(ABC):
    medium: Medium

    @abstractmethod
    async def send(self, session: AsyncSession, delivery: Delivery) -> None:
        """Raises on failure; the delivery is then retried."""


class RecordingProvider(Provider):
    medium = Medium.RECORD

    async def send(self, session: AsyncSession, delivery: Delivery) -> None:
        # Keyed by notification id, so recording the same delivery twice keeps one row.
        await session.execute(
            insert(store.recorded_messages)
            .values(
                notification_id=delivery.notification_id,
                recipient=delivery.recipient,
                kind=delivery.kind,
                body=delivery.body,
            )
            .on_conflict_do_nothing(index_elements=["notification_id"])
        )
