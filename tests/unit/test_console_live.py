"""Who hears what at once on an open console page (services/console/live/notices.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from services.console.live.handlers import routes
from services.console.live.notices import HEARD, KINDS, notices_of
from shared.events import (
    AppealReassigned,
    AppealStatusChanged,
    DeadlineOverdue,
    ExtensionDecided,
    ReturnDecided,
)

NOW = datetime(2026, 12, 2, 9, tzinfo=UTC)
APPEAL = uuid4()


def test_a_new_assignment_reaches_the_officer_and_a_reassignment_both_officers() -> None:
    assigned = notices_of(
        AppealStatusChanged(
            appeal_id=APPEAL,
            from_status="received",
            to_status="assigned",
            officer_id="o1",
            changed_at=NOW,
            tracking_code="DW-1",
        )
    )
    assert [(n.kind, n.officer_id, n.tracking_code) for n in assigned] == [
        ("assigned", "o1", "DW-1")
    ]
    moved = notices_of(
        AppealReassigned(
            appeal_id=APPEAL,
            from_officer_id="o1",
            officer_id="o2",
            reason_code="manual",
            reason="r",
            cause="manual",
            reassigned_at=NOW,
        )
    )
    assert [(n.kind, n.officer_id) for n in moved] == [
        ("assigned", "o2"),
        ("reassigned_away", "o1"),
    ]


def test_an_urging_notice_reaches_the_officer_and_their_units_overseers() -> None:
    [urged] = notices_of(
        DeadlineOverdue(
            appeal_id=APPEAL,
            stage="resolve",
            officer_id="o1",
            unit="u1",
            due_at=NOW,
            rule="complaint: 15 working days",
            fired_at=NOW,
        )
    )
    assert (urged.kind, urged.officer_id, urged.unit, urged.detail) == (
        "urged",
        "o1",
        "u1",
        "resolve",
    )


def test_rulings_reach_the_officer_who_asked() -> None:
    [returned] = notices_of(
        ReturnDecided(
            appeal_id=APPEAL,
            officer_id="o1",
            decision="reject",
            decided_by="d",
            note="yours",
            decided_at=NOW,
        )
    )
    assert (returned.kind, returned.officer_id, returned.detail) == (
        "return_rejected",
        "o1",
        "yours",
    )
    [extension] = notices_of(
        ExtensionDecided(
            appeal_id=APPEAL,
            extension_id=1,
            officer_id="o1",
            decision="grant",
            decided_by="s",
            previous_due_at=NOW,
            due_at=NOW,
            decided_at=NOW,
        )
    )
    assert extension.kind == "extension_granted"


def test_events_no_page_shows_make_no_notice_and_every_kind_is_in_the_catalogue_list() -> None:
    assert (
        notices_of(
            AppealStatusChanged(
                appeal_id=APPEAL, from_status="assigned", to_status="accepted", changed_at=NOW
            )
        )
        == []
    )
    heard = {kind for topic in routes().values() for kind in topic}
    assert heard == {kind.TYPE for kind in HEARD}
    assert {"assigned", "urged", "return_rejected", "extension_granted"} <= set(KINDS)


def test_a_stream_sends_a_late_notice_once_and_resumes_after_the_highest_sent() -> None:
    from services.console.live.api import SENT_KEPT, SentNotices

    sent = SentNotices(last=10)
    assert sent.first_time(12) and sent.last == 12
    assert sent.first_time(11) and sent.last == 12  # committed late: sent, resume stays at 12
    assert not sent.first_time(12) and not sent.first_time(11)
    for i in range(13, 13 + SENT_KEPT):
        assert sent.first_time(i)
    assert len(sent.ids) <= SENT_KEPT and not sent.first_time(sent.last)
