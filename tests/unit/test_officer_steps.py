"""The steps tracking's appeal view offers an officer come from the lifecycle's own table."""

from __future__ import annotations

from services.tracking.appeals.lifecycle import steps_allowed
from shared.vocabulary import AppealStatus as S


def test_the_lead_is_offered_exactly_what_the_lifecycle_allows_in_each_status() -> None:
    assert steps_allowed(S.ASSIGNED, lead=True) == ["accept", "return"]
    assert steps_allowed(S.ACCEPTED, lead=True) == [
        "contact",
        "progress",
        "resolve",
        "return",
        "extension",
    ]
    assert steps_allowed(S.REOPENED, lead=True) == ["accept", "return"]
    assert steps_allowed(S.RESOLVED, lead=True) == []
    assert steps_allowed(S.CLOSED, lead=True) == []


def test_an_assistant_records_contacts_and_progress_only() -> None:
    assert steps_allowed(S.IN_PROGRESS, lead=False) == ["contact", "progress"]
    assert steps_allowed(S.ASSIGNED, lead=False) == []
