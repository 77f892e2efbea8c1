"""What the channel models share: how external systems' local times are read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated

from pydantic import AfterValidator

# China has one time zone and no daylight saving time.
CHINA_TIME = timezone(timedelta(hours=8), "CST")


def assume_china_time(value: datetime) -> datetime:
    """External systems (12345, the mayor's line) send local wall-clock times without an offset:
    those are China Standard Time. Times with an offset are kept as they are."""
    return value.replace(tzinfo=CHINA_TIME) if value.tzinfo is None else value


# A time from an external system: "2026-11-27 09:15:00" means 09:15 in China.
ChinaDatetime = Annotated[datetime, AfterValidator(assume_china_time)]
