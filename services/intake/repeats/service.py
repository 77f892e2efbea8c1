"""Whether a submission repeats one of its appellant's open appeals: the candidates the caller
loaded (submissions/store.py, with the rest of what a submission reads), the decision from the
pure matcher (matching.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

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

    def find(
        self, submission: AppealSubmission, now: datetime, candidates: Iterable[OpenAppeal]
    ) -> DuplicateMatch | None:
        """The open appeal `submission` repeats among `candidates` (appeals of the same phone or
        credit code received since `now - window`, not known to be closed), or None (always
        None when anonymous: nobody to recognise)."""
        appellant = submission.appellant
        if appellant.anonymous:
            return None
        return find_duplicate(
            appellant.phone,
            appellant.enterprise_credit_code,
            submission.content,
            now,
            candidates,
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
