"""What every delivery provider is (providers/ holds one module per provider: smtp.py,
sms_gateway.py, webhooks.py, recording.py; assembly.py builds those the settings configure).

A provider returns when the message was accepted and raises a `DeliveryError` otherwise:
transient (try again later) or permanent (give up). Error texts go to logs and to the delivery
log, so they name the status or the failure, never the address, the phone number or the body,
and they carry no chained exception (whose text might).

Each provider also says how long one send may take at most (`max_send_s`: its own timeout, which
the configuration bounds, and a moment more): the delivery worker stops waiting for a send after
that long whatever the provider does, and leases the rows it sends for longer."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from shared.vocabulary import Medium

HEADER_DELIVERY_ID = "X-Jiban-Delivery-Id"
HEADER_ATTEMPT = "X-Jiban-Attempt"
# How much longer than its own timeout a provider's send is given before the worker stops
# waiting: the provider's own error (which says what timed out) normally comes first.
GIVE_UP_AFTER_S = 1.0


@dataclass(frozen=True)
class Delivery:
    delivery_id: UUID  # the notification id: the same on every retry, so receivers can dedupe
    recipient: str  # "appellant" | "officer:<id>" | "channel:<code>": a label, never an address
    address: str | None  # phone (sms) or e-mail address (email); None for webhook and record
    kind: str
    subject: str | None  # e-mail subject
    body: str  # text; for a webhook, the JSON document to POST
    attempt: int  # 1-based


class DeliveryError(Exception):
    """A send that did not go through. Without a subclass's say, worth another try."""

    transient: bool = True

    def __init__(self, message: str, *, transient: bool | None = None) -> None:
        super().__init__(message)
        if transient is not None:
            self.transient = transient


class TransientDeliveryError(DeliveryError):
    """Try again later: the server is down, slow, busy or says "not now"."""

    transient = True

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        # What the server asked for (HTTP Retry-After), when it did; the caller may honour it.
        self.retry_after_s = retry_after_s


class PermanentDeliveryError(DeliveryError):
    """Give up: the server refused this message, or it cannot be sent as it is."""

    transient = False


# --- Rate limits ---------------------------------------------------------------------------


class RateLimiter:
    """A token bucket (pure: the caller gives the clock): `rate_per_s` sustained, bursts of up to
    `burst`. It starts full. One event loop uses it, so it needs no lock."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        if not rate_per_s > 0:
            raise ValueError("rate_per_s must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_s = float(rate_per_s)
        self.burst = burst
        self._tokens = float(burst)
        self._last: float | None = None

    def _refill(self, now: float) -> None:
        if self._last is not None and now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate_per_s)
        # A clock that went back (not monotonic) grants nothing, and does not move `_last` back.
        if self._last is None or now > self._last:
            self._last = now

    def try_acquire(self, now: float) -> bool:
        self._refill(now)
        # The tolerance absorbs float error: 10/s for 0.1 s must give a whole token.
        if self._tokens >= 1 - 1e-9:
            self._tokens = max(0.0, self._tokens - 1)
            return True
        return False

    def wait_s(self, now: float) -> float:
        """Seconds until `try_acquire` can say yes (0 when it can now)."""
        self._refill(now)
        return max(0.0, (1 - self._tokens) / self.rate_per_s)


def default_burst(rate_per_s: float) -> int:
    """One second's worth, and at least one message."""
    return max(1, math.ceil(rate_per_s))


# --- The interface -------------------------------------------------------------------------


class Provider(ABC):
    medium: ClassVar[Medium]
    name: ClassVar[str]  # for metrics and rate limits: "smtp", "sms_gateway", "webhook", "record"
    # True: `send` writes with the caller's session (in its transaction); the others ignore it.
    needs_session: ClassVar[bool] = False

    def __init__(self, *, rate_limit: RateLimiter | None = None) -> None:
        # The worker asks it before each send and leaves the message for later on a no.
        self.rate_limit = rate_limit

    @property
    @abstractmethod
    def max_send_s(self) -> float:
        """The longest one send may take, in seconds."""

    @abstractmethod
    async def send(self, session: AsyncSession | None, delivery: Delivery) -> None:
        """Returns when the message was accepted; raises DeliveryError otherwise."""

    async def send_all(
        self, session: AsyncSession, deliveries: Sequence[Delivery]
    ) -> list[DeliveryError | None]:
        """For a provider that `needs_session`: sends a round's deliveries in the caller's
        transaction, each its own outcome (None: accepted). One at a time here, each in a
        savepoint, so that a refused one leaves nothing behind; a provider that can do a
        round in one statement says so by overriding this."""
        outcomes: list[DeliveryError | None] = []
        for delivery in deliveries:
            try:
                async with session.begin_nested():
                    await self.send(session, delivery)
            except DeliveryError as exc:
                outcomes.append(exc)
            else:
                outcomes.append(None)
        return outcomes

    async def aclose(self) -> None:  # noqa: B027 - most providers pool nothing
        """Closes pooled clients."""
