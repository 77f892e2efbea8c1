"""Follow-up results (回访): the hotline called the appellant back; intake passes the result
on to tracking as FollowUpRecorded."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from services.intake.follow_ups import store
from shared.clock import utcnow
from shared.events import FollowUpRecorded
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import Channel, Satisfaction


@dataclass(frozen=True)
class FollowUpResult:
    """One call-back's result, naming the appeal by its id or its tracking code."""

    channel: Channel
    appeal_id: UUID | None
    tracking_code: str | None
    contacted: bool
    solved: bool
    satisfaction: Satisfaction
    note: str | None


class UnknownAppeal(LookupError):
    """Intake never accepted such an appeal."""


async def record_follow_up(units: UnitsOfWork, result: FollowUpResult, correlation_id: str) -> UUID:
    """Publishes the call-back's result for tracking; the appeal's id."""
    async with units.begin() as uow:
        row = await store.find_appeal(
            uow.session, appeal_id=result.appeal_id, tracking_code=result.tracking_code
        )
        if row is None:
            raise UnknownAppeal(str(result.appeal_id or result.tracking_code))
        await uow.publish(
            FollowUpRecorded(
                appeal_id=row.appeal_id,
                channel=result.channel,
                contacted=result.contacted,
                solved=result.solved,
                satisfaction=result.satisfaction,
                note=result.note,
                recorded_at=utcnow(),
            ),
            correlation_id=correlation_id,
        )
    appeal_id: UUID = row.appeal_id
    return appeal_id
