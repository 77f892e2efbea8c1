"""When to try a failed delivery again (pure): exponential backoff with full jitter, capped.

The next attempt's time is stored on the notification row, so a provider that is down delays
messages without holding up the consumer, and a restart forgets nothing."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_s: float = 30.0
    max_s: float = 3600.0

    def delay_s(self, attempts: int, rng: random.Random | None = None) -> float:
        """The wait after `attempts` failed tries: a random point in [ceiling/2, ceiling], where
        the ceiling doubles each time up to `max_s`. Half of it is fixed so that a retry never
        comes immediately; the random half spreads a crowd of retries after an outage."""
        ceiling = min(self.max_s, self.base_s * 2.0 ** max(0, attempts - 1))
        draw = (rng or random).random()
        return ceiling / 2 + draw * ceiling / 2

    def next_attempt(
        self, attempts: int, now: datetime, rng: random.Random | None = None
    ) -> datetime | None:
        """None when `attempts` used the budget: the message is failed."""
        if attempts >= self.max_attempts:
            return None
        return now + timedelta(seconds=self.delay_s(attempts, rng))
