"""The recording provider (the development default, and medium `record`): it keeps each message
in notify's own table (notify.recorded_messages), in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.providers.base import GIVE_UP_AFTER_S, Delivery, DeliveryError, Provider
from services.notify.tables import recorded_messages
from shared.vocabulary import Medium

# Keyed by notification id, so recording the same delivery twice keeps one row.
RECORD = insert(recorded_messages).on_conflict_do_nothing(index_elements=["notification_id"])


def _row(delivery: Delivery) -> dict[str, object]:
    return {
        "notification_id": delivery.delivery_id,
        "recipient": delivery.recipient,
        "kind": delivery.kind,
        "body": delivery.body,
    }


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
        await session.execute(RECORD, [_row(delivery)])

    async def send_all(
        self, session: AsyncSession, deliveries: Sequence[Delivery]
    ) -> list[DeliveryError | None]:
        """A round's messages in one statement (recording refuses nothing)."""
        if deliveries:
            await session.execute(RECORD, [_row(d) for d in deliveries])
        return [None] * len(deliveries)
