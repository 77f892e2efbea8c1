"""Quiet hours (pure): non-urgent SMS to appellants wait until morning, they are never dropped.

The window is local time in the zone's clock and may cross midnight (22:00–08:00)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.clock import ZONE

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    zone: ZoneInfo = ZONE

    @classmethod
    def parse(cls, window: str, zone: ZoneInfo = ZONE) -> QuietHours | None:
        """ "22:00-08:00" → the window; "" or "off" → None (no quiet hours)."""
        if window.strip().lower() in ("", "off", "none"):
            return None
        match = _WINDOW.match(window)
        if match is None:
            raise ValueError(f"quiet hours must look like 22:00-08:00, not {window!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = time(h1, m1), time(h2, m2)
        if start == end:
            raise ValueError("quiet hours must not start and end at the same time")
        return cls(start, end, zone)

    def _contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # crosses midnight

    def ends_after(self, now: datetime) -> datetime | None:
        """When the quiet hours `now` falls in end (aware, in the zone), or None when it is
        not quiet now."""
        local = now.astimezone(self.zone)
        if not self._contains(local.time().replace(tzinfo=None)):
            return None
        end = datetime.combine(local.date(), self.end, tzinfo=self.zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=self.zone)
        return end


def waits_for_morning(*, medium: str, recipient: str, urgent: bool) -> bool:
    """Only SMS to the appellant waits: officers' reminders and channel callbacks are work."""
    return medium == "sms" and recipient == "appellant" and not urgent
