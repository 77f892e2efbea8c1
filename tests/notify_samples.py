"""The appeal events notify's pure tests decide on and word (test_notify_rules.py,
test_notify_words.py): one appeal, one officer, one moment, built the same way in both."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from shared.events import AppealStatusChanged, ExtensionCancelled, FollowUpRefused
from shared.vocabulary import AppealStatus, Channel

APPEAL_ID = uuid.UUID("6a1f3c2e-4b5d-4e6f-8a9b-0c1d2e3f4a5b")
# The real layout (intake's tracking codes), twice as long as a bare code: the SMS budget is
# checked with it.
CODE = "DW-20261127-418305-7"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # 17:00 in the zone
OFFICER = "cw-dw01-1"
SUPERVISOR = "sup-dw-1"
FOLLOW_UP_EVENT_ID = uuid.UUID("0b7e2a4c-1d3f-4e5a-9b8c-7d6e5f4a3b2c")
REFUSED_BECAUSE = "Follow-up refused: the appeal is closed, not resolved"


def status(to: AppealStatus, **values: Any) -> AppealStatusChanged:
    return AppealStatusChanged(
        appeal_id=APPEAL_ID,
        from_status=AppealStatus.IN_PROGRESS,
        to_status=to,
        changed_at=NOW,
        tracking_code=CODE,
        **values,
    )


def deadline(model: type[Any], stage: str = "acknowledge", **values: Any) -> Any:
    """A deadline event (reminder, warning, overdue, public notice) of the appeal's officer."""
    return model(
        appeal_id=APPEAL_ID,
        stage=stage,
        officer_id=values.pop("officer_id", OFFICER),
        supervisor_id=SUPERVISOR,
        unit="大旺社区",
        due_at=NOW,
        rule="complaint: 15 working days",
        fired_at=NOW,
        tracking_code=CODE,
        **values,
    )


def extension_cancelled(reason: str, supervisor_id: str | None = SUPERVISOR) -> ExtensionCancelled:
    return ExtensionCancelled(
        appeal_id=APPEAL_ID,
        extension_id=7,
        officer_id=OFFICER,
        supervisor_id=supervisor_id,
        reason=reason,
        cancelled_at=NOW,
    )


def follow_up_refused(channel: Channel = Channel.HOTLINE_12345) -> FollowUpRefused:
    return FollowUpRefused(
        appeal_id=APPEAL_ID,
        follow_up_event_id=FOLLOW_UP_EVENT_ID,
        channel=channel,
        status=AppealStatus.CLOSED,
        reason=REFUSED_BECAUSE,
        refused_at=NOW,
        tracking_code=CODE,
    )
