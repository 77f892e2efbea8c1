"""One module per channel: its native payload model and a pure mapper to the unified
`AppealSubmission`. `CHANNELS` lets the API and the Kafka consumers look a channel up:

    spec = CHANNELS[Channel.MAYOR_LINE]
    result = spec.parse(payload, now=now)   # AppealSubmission, or a VisitLog for cso_visit

Validation errors are pydantic's, with locations in the native payload's field names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.intake.channels import cso_visit, hotline_12345, mayor_line, web, window
from services.intake.channels.cso_visit import VisitLog
from services.intake.submissions.form import AppealSubmission
from shared.vocabulary import Channel

__all__ = ["CHANNELS", "ChannelSpec", "VisitLog"]


@dataclass(frozen=True)
class ChannelSpec:
    channel: Channel
    native: type[BaseModel]
    to_submission: Callable[[Any], AppealSubmission | VisitLog]

    def parse(
        self, payload: Mapping[str, Any], *, now: datetime | None = None
    ) -> AppealSubmission | VisitLog:
        """Validate a native payload and map it. With `now`, times in the future (beyond the
        allowed clock skew) are refused too, naming the native field."""
        native = self.native.model_validate(payload, context={"now": now} if now else None)
        return self.to_submission(native)


CHANNELS: dict[Channel, ChannelSpec] = {
    Channel.HOTLINE_12345: ChannelSpec(
        Channel.HOTLINE_12345, hotline_12345.HotlineWorkOrder, hotline_12345.to_submission
    ),
    Channel.MAYOR_LINE: ChannelSpec(
        Channel.MAYOR_LINE, mayor_line.MayorLineMessage, mayor_line.to_submission
    ),
    Channel.CSO_VISIT: ChannelSpec(Channel.CSO_VISIT, cso_visit.CsoVisit, cso_visit.to_submission),
    Channel.WEB: ChannelSpec(Channel.WEB, web.WebForm, web.to_submission),
    Channel.WINDOW: ChannelSpec(Channel.WINDOW, window.WindowRecord, window.to_submission),
}
