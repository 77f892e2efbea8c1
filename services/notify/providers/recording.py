"""The recording provider (the development default, and medium `record`): it keeps each message
in notify's own table (notify.recorded_messages), in the caller's transaction."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.providers.base import GIVE_UP_AFTER_S, Delivery, Provider
from services.notify.tables import recorded_messages
from shared.vocabulary import Medium


class RecordingProvider(Provider):
    medium = Medium.RECORD
    name = "record"
    needs_session = True

    @property
    def max_send_s(self) -> float:
        # One statement in the claiming transaction: no lease covers it, the database bounds it.
        return GIVE_UP_AFTER_S

    async def send(self, session: AsyncSession | None, delivery: Delivery) -> None:
        if session is None:
            raise TypeError("the recording provider writes in the caller's transaction")
        # Keyed by notification id, so recording the same delivery twice keeps one row.
        await session.execute(
            insert(recorded_messages)
            .values(
                notification_id=delivery.delivery_id,
                recipient=delivery.recipient,
                kind=delivery.kind,
                body=delivery.body,
            )
            .on_conflict_do_nothing(index_elements=["notification_id"])
        )
