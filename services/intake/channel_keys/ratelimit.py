"""Rate limiting of unsigned (web) submissions, per client address (pure: the clock is injected).

A token bucket per address: `burst` submissions at once, refilled at `per_minute`. The limit is
per replica (in memory): N replicas let through up to N times the rate, which is acceptable for
a flood guard; replay protection, which must hold across replicas, lives in Postgres instead.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

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


def parse_trusted_proxies(spec: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """`"10.0.0.0/8, 172.16.0.1"` (or an iterable of such) → networks; ValueError on a bad one."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return tuple(ipaddress.ip_network(i.strip(), strict=False) for i in items if i.strip())


def _address(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:5123"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, proxies: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str] | str | None, proxies: Sequence[IPNetwork]
) -> str:
    """The address a request comes from. `X-Forwarded-For` is believed only as far as it was
    written by trusted proxies: starting from the direct peer, walk the list from the right and
    stop at the first hop that is not a trusted proxy (anything left of it could be forged)."""
    peer_address = _address(peer) if peer else None
    if peer_address is None:
        return peer or "unknown"
    if not forwarded_for or not _trusted(peer_address, proxies):
        return str(peer_address)
    values = [forwarded_for] if isinstance(forwarded_for, str) else list(forwarded_for)
    hops = [h for value in values for h in value.split(",") if h.strip()]
    client = peer_address
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # garbage in the chain: trust nothing further left
        client = address
        if not _trusted(address, proxies):
            break
    return str(client)
