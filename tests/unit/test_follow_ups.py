"""When intake takes a follow-up result (回访): only while the appeal is resolved, as intake last
heard from tracking; otherwise the refusal names the status."""

from __future__ import annotations

import pytest

from services.intake.follow_ups.service import refusal
from shared.vocabulary import AppealStatus

AWAITS = "a follow-up result is taken only while it awaits one"


@pytest.mark.parametrize(
    ("status", "refused"),
    [
        (None, None),  # not heard yet (appeals from before intake kept statuses): tracking decides
        (AppealStatus.RESOLVED, None),
        (AppealStatus.RECEIVED, f"the appeal is received, not resolved: {AWAITS}"),
        (AppealStatus.ASSIGNED, f"the appeal is assigned, not resolved: {AWAITS}"),
        (AppealStatus.ACCEPTED, f"the appeal is accepted, not resolved: {AWAITS}"),
        (AppealStatus.IN_PROGRESS, f"the appeal is in_progress, not resolved: {AWAITS}"),
        (AppealStatus.RETURNED, f"the appeal is returned, not resolved: {AWAITS}"),
        (AppealStatus.REOPENED, f"the appeal is reopened, not resolved: {AWAITS}"),
        (AppealStatus.CLOSED, f"the appeal is closed, not resolved: {AWAITS}"),
    ],
)
def test_a_follow_up_is_refused_unless_the_appeal_is_resolved(
    status: AppealStatus | None, refused: str | None
) -> None:
    assert refusal(status) == refused


def test_every_status_is_in_the_table() -> None:
    # A status added to the lifecycle must be decided here too.
    assert {s for s in AppealStatus if refusal(s) is None} == {AppealStatus.RESOLVED}
