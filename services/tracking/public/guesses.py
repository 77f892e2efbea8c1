"""How many wrong guesses the public status page allows (pure: the time is given). Each lookup
counts against its tracking code and its client address in a fixed window before it is looked
up, and is given back when it was right, so only wrong guesses use the allowance; once either
count is over its limit, lookups are refused (429) until the window ends. With five guesses per
code in 15 minutes, finding a phone's last four digits (10,000 choices) takes weeks, and every
replica counts in the same table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Scope = Literal["code", "client"]


@dataclass(frozen=True)
class GuessLimits:
    per_code: int
    per_client: int
    window: timedelta

    def window_start(self, now: datetime) -> datetime:
        """The fixed window `now` falls in (windows start at multiples of its length)."""
        seconds = self.window.total_seconds()
        return datetime.fromtimestamp(now.timestamp() // seconds * seconds, UTC)

    def retry_after_s(self, now: datetime) -> int:
        """Whole seconds until the window `now` falls in ends (at least 1)."""
        end = self.window_start(now) + self.window
        return max(1, int((end - now).total_seconds() + 0.999))

    def over(self, counts: dict[Scope, int]) -> Scope | None:
        """Which limit the counts (this lookup included) are over, if any."""
        if counts.get("code", 0) > self.per_code:
            return "code"
        if counts.get("client", 0) > self.per_client:
            return "client"
        return None
