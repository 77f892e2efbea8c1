"""Follow-up results (回访): the hotline called the appellant back; intake passes the result
on to tracking as FollowUpRecorded, but only while the appeal awaits one (it is resolved, as
intake last heard from appeals.lifecycle). Otherwise the channel hears why at once, rather than
a 202 that tracking would refuse; for a status that changes in between, tracking publishes
FollowUpRefused and notify sends the channel a signed status callback."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from services.intake.follow_ups import store
from shared.clock import utcnow
from shared.events import FollowUpRecorded
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import AppealStatus, Channel, Satisfaction


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


class NotAwaitingFollowUp(Exception):
    """The appeal is not resolved: a follow-up result would not be applied."""

    def __init__(self, status: AppealStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def refusal(status: AppealStatus | None) -> str | None:
    """Why a follow-up result is not taken for an appeal in `status`, or None when it is. An
    appeal whose status intake has not heard (accepted before it kept them) is left to
    tracking to decide."""
    if status is None or status == AppealStatus.RESOLVED:
        return None
    return (
        f"the appeal is {status.value}, not {AppealStatus.RESOLVED.value}: "
        "a follow-up result is taken only while it awaits one"
    )


async def record_follow_up(units: UnitsOfWork, result: FollowUpResult, correlation_id: str) -> UUID:
    """Publishes the call-back's result for tracking; the appeal's id. UnknownAppeal,
    NotAwaitingFollowUp: nothing published."""
    async with units.begin() as uow:
        row = await store.find_appeal(
            uow.session, appeal_id=result.appeal_id, tracking_code=result.tracking_code
        )
        if row is None:
            raise UnknownAppeal(str(result.appeal_id or result.tracking_code))
        status = None if row.status is None else AppealStatus(row.status)
        reason = refusal(status)
        if status is not None and reason is not None:
            raise NotAwaitingFollowUp(status, reason)
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
