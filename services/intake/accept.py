"""Accepting a submission: store the appeal and its AppealReceived event in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import store
from services.intake.submission import AppealAccepted, AppealSubmission
from services.intake.tracking_code import format_tracking_code, local_day
from shared.db import Database
from shared.envelope import utcnow
from shared.events import AppealReceived, Appellant, Location
from shared.outbox import Outbox
from shared.vocabulary import Urgency

log = logging.getLogger(__name__)

SERVICE = "intake"


@dataclass(frozen=True)
class CodeBook:
    """Tracking codes: the next number of intake's sequence, scrambled and printed by the pure
    formatter (never the same code twice, none guessable from another)."""

    prefix: str
    key: bytes

    async def draw(self, session: AsyncSession, received_at: datetime) -> str:
        n = await session.scalar(text("SELECT nextval('intake.tracking_code_seq')"))
        return format_tracking_code(self.prefix, local_day(received_at), int(n), self.key)


def received_event(
    submission: AppealSubmission, accepted: AppealAccepted, received_at: datetime
) -> AppealReceived:
    return AppealReceived(
        appeal_id=accepted.appeal_id,
        tracking_code=accepted.tracking_code,
        channel=submission.channel,
        external_id=submission.external_id,
        appellant=Appellant(**submission.appellant.model_dump()),
        content=submission.content,
        location=Location(**submission.location.model_dump()),
        category=submission.category,
        urgency=submission.urgency or Urgency.NORMAL,
        appeal_type=submission.type,
        received_at=received_at,
    )


async def accept(
    db: Database,
    outbox: Outbox,
    codes: CodeBook,
    submission: AppealSubmission,
    correlation_id: str,
) -> tuple[AppealAccepted, bool]:
    """Returns the appeal and whether it is new. Raises only when the database is unreachable,
    in which case nothing was stored."""
    received_at = utcnow()
    async with db.transaction() as session:
        accepted = AppealAccepted(
            appeal_id=uuid4(), tracking_code=await codes.draw(session, received_at)
        )
        created = await store.insert_appeal(
            session,
            appeal_id=accepted.appeal_id,
            tracking_code=accepted.tracking_code,
            submission=submission,
            received_at=received_at,
        )
        if created:
            event = received_event(submission, accepted, received_at)
            await outbox.put_event(session, event, correlation_id=correlation_id, producer=SERVICE)
            return accepted, True
        existing = await store.find_submission(session, submission.channel, submission.external_id)
        assert existing is not None, "a conflicting row exists"
        return existing, False
