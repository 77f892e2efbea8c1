"""Whether a submission repeats one of its appellant's open appeals: the candidates from the
store, the decision from the pure matcher (matching.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.repeats import store
from services.intake.repeats.matching import (
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW,
    DuplicateMatch,
    OpenAppeal,
    find_duplicate,
)
from services.intake.submissions.form import AppealSubmission
from shared.events import AppealMerged, Appellant


@dataclass(frozen=True)
class Repeats:
    threshold: float = DEFAULT_THRESHOLD
    window: timedelta = DEFAULT_WINDOW

    async def find(
        self, session: AsyncSession, submission: AppealSubmission, now: datetime
    ) -> DuplicateMatch | None:
        """The open appeal `submission` repeats, or None (always None when anonymous: nobody
        to recognise)."""
        appellant = submission.appellant
        if appellant.anonymous:
            return None
        rows = await store.open_appeals_of(
            session,
            phone=appellant.phone,
            credit_code=appellant.enterprise_credit_code,
            since=now - self.window,
        )
        return find_duplicate(
            appellant.phone,
            appellant.enterprise_credit_code,
            submission.content,
            now,
            [
                OpenAppeal(
                    appeal_id=r.appeal_id,
                    tracking_code=r.tracking_code,
                    phone=r.phone,
                    enterprise_credit_code=r.enterprise_credit_code,
                    content=r.content or "",
                    received_at=r.received_at,
                )
                for r in rows
            ],
            threshold=self.threshold,
            window=self.window,
        )


def merged_event(
    submission: AppealSubmission, match: DuplicateMatch, merged_at: datetime
) -> AppealMerged:
    return AppealMerged(
        appeal_id=match.appeal_id,
        tracking_code=match.tracking_code,
        channel=submission.channel,
        external_id=submission.external_id,
        appellant=Appellant(**submission.appellant.model_dump()),
        content=submission.content,
        merged_at=merged_at,
        score=match.score,
        reason=match.reason,
    )
