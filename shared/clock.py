"""Time, once: the zone every local date is in (deadlines, tracking codes, months, leave), and
the current instant (always aware, in UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

# Zhaoqing keeps China Standard Time; "the day of receipt", "end of the month" are days here.
ZONE = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)
