"""Submissions and the appeals they created: claiming a (channel, external_id), settling its
answer, reading it back."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.submissions.form import AppealSubmission
from services.intake.tables import AnyRow, appeals, insert_if_new, submissions
from shared.vocabulary import AppealStatus


async def insert_appeal(
    session: AsyncSession,
    *,
    appeal_id: UUID,
    tracking_code: str,
    submission: AppealSubmission,
    classification: dict[str, str],
    received_at: datetime,
) -> None:
    appellant = submission.appellant
    await session.execute(
        insert(appeals).values(
            appeal_id=appeal_id,
            tracking_code=tracking_code,
            channel=submission.channel,
            external_id=submission.external_id,
            submission=submission.model_dump(mode="json"),
            received_at=received_at,
            phone=appellant.phone,
            enterprise_credit_code=appellant.enterprise_credit_code,
            classification=classification,
            # Until tracking announces anything. No time with it: whatever tracking says next
            # wins, whichever way the two services' clocks differ.
            status=AppealStatus.RECEIVED,
        )
    )


async def claim_submission(
    session: AsyncSession, channel: str, external_id: str, received_at: datetime
) -> bool:
    """Takes (channel, external_id) for this transaction; False if it was answered before (or a
    concurrent transaction answered it: the insert waits for that one to finish)."""
    return await insert_if_new(
        session,
        submissions,
        channel=channel,
        external_id=external_id,
        outcome="",
        received_at=received_at,
    )


async def settle_submission(
    session: AsyncSession,
    channel: str,
    external_id: str,
    *,
    outcome: str,
    appeal_id: UUID | None = None,
    tracking_code: str | None = None,
    score: float | None = None,
    reason: str | None = None,
) -> None:
    await session.execute(
        update(submissions)
        .where(submissions.c.channel == channel, submissions.c.external_id == external_id)
        .values(
            outcome=outcome,
            appeal_id=appeal_id,
            tracking_code=tracking_code,
            score=score,
            reason=reason,
        )
    )


async def find_submission(session: AsyncSession, channel: str, external_id: str) -> AnyRow | None:
    return (
        await session.execute(
            select(submissions).where(
                submissions.c.channel == channel, submissions.c.external_id == external_id
            )
        )
    ).first()
