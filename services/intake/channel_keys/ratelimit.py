"""Rate limiting of unsigned (web) submissions, per client address (pure: the clock is injected).

A token bucket per address: `burst` submissions at once, refilled at `per_minute`. The limit is
per replica (in memory): N replicas let through up to N times the rate, which is acceptable for
a flood guard; replay protection, which must hold across replicas, lives in Postgres instead.
Who the client is (trusting `X-Forwarded-For` only from trusted proxies) is
`shared/client_address.py`.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# Addresses remembered at most; the least recently seen are forgotten first (a forgotten address
# starts again with a full bucket, the same as one idle long enough to refill).
DEFAULT_MAX_CLIENTS = 100_000


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Whole seconds until one more submission would be allowed (0 when allowed).
    retry_after_s: int = 0


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = DEFAULT_MAX_CLIENTS,
    ) -> None:
        if per_minute < 1 or burst < 1:
            raise ValueError("rate limit per minute and burst must be at least 1")
        self.rate_per_s = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def hit(self, client: str) -> Decision:
        """Takes one token from `client`'s bucket if it has one."""
        now = self.clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = _Bucket(tokens=self.burst, updated=now)
            self._buckets[client] = bucket
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
            elapsed = max(0.0, now - bucket.updated)  # a clock that steps back refills nothing
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate_per_s)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Decision(allowed=True)
        wait = (1.0 - bucket.tokens) / self.rate_per_s
        # Rounded up, so a client that waits exactly Retry-After is let through.
        return Decision(allowed=False, retry_after_s=max(1, math.ceil(wait - 1e-9)))

    def __len__(self) -> int:
        return len(self._buckets)
