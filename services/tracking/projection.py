"""How events fold into an appeal's record. Pure, and order-insensitive: received and assigned
events come from different topics, so they may arrive either way round, and any order must end
in the same record."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.events import AppealAssigned, AppealReceived
from shared.vocabulary import AppealStatus

# How far along the loop each status is; an event never moves an appeal backwards.
# (Tracking's own lifecycle transitions, which can move it back, come with the lifecycle issue.)
PROGRESS: dict[AppealStatus, int] = {AppealStatus.RECEIVED: 0, AppealStatus.ASSIGNED: 1}


@dataclass(frozen=True)
class AppealRecord:
    appeal_id: str
    status: AppealStatus | None = None  # None: only a placeholder so far
    tracking_code: str | None = None
    channel: str | None = None
    category: str | None = None
    urgency: str | None = None
    summary: str | None = None
    community: str | None = None
    enterprise_credit_code: str | None = None
    received_at: datetime | None = None
    officer_id: str | None = None
    assigned_at: datetime | None = None
    assignment_reason: str | None = None


def _advance(current: AppealStatus | None, to: AppealStatus) -> AppealStatus:
    if current is None or PROGRESS.get(current, 99) < PROGRESS[to]:
        return to
    return current


SUMMARY_CHARS = 200


def apply_received(record: AppealRecord, event: AppealReceived) -> AppealRecord:
    return replace(
        record,
        status=_advance(record.status, AppealStatus.RECEIVED),
        tracking_code=event.tracking_code,
        channel=event.channel.value,
        category=None if event.category is None else event.category.value,
        urgency=event.urgency.value,
        summary=event.content[:SUMMARY_CHARS],
        community=event.location.community,
        enterprise_credit_code=event.appellant.enterprise_credit_code,
        received_at=event.received_at,
    )


def apply_assigned(record: AppealRecord, event: AppealAssigned) -> AppealRecord:
    # A later assignment (reassignment) wins; an older one arriving late does not undo it.
    newer = record.assigned_at is None or event.assigned_at >= record.assigned_at
    return replace(
        record,
        status=_advance(record.status, AppealStatus.ASSIGNED),
        tracking_code=record.tracking_code or event.tracking_code,
        officer_id=event.officer_id if newer else record.officer_id,
        assigned_at=event.assigned_at if newer else record.assigned_at,
        assignment_reason=event.reason if newer else record.assignment_reason,
    )
