"""What the HTTP providers (the SMS gateway, the webhooks) share: one bounded request, and its
answer or failure classified as transient or permanent."""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from services.notify.providers.base import (
    DeliveryError,
    PermanentDeliveryError,
    Provider,
    RateLimiter,
    TransientDeliveryError,
)
from shared.failures import is_transient

USER_AGENT = "jiban-notify"
# The longest a request may be configured to take (the delivery lease follows from it).
MAX_TIMEOUT_S = 60.0


def _retry_after_s(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def http_status_error(
    service: str, status: int, retry_after: str | None = None, now: datetime | None = None
) -> DeliveryError | None:
    """None for 2xx. 408, 425, 429 and 5xx may pass later; any other answer will not."""
    if 200 <= status < 300:
        return None
    text = f"{service} {status}"
    if status in (408, 425, 429) or 500 <= status < 600:
        return TransientDeliveryError(
            text, retry_after_s=_retry_after_s(retry_after, now or datetime.now(UTC))
        )
    # Other 4xx: the request is wrong; 3xx: the URL is (redirects are not followed).
    return PermanentDeliveryError(text)


def classify_http_error(exc: BaseException, service: str, timeout_s: float) -> DeliveryError | None:
    """The DeliveryError for what httpx raised; None for a bug (to propagate). URLs are left
    out: a gateway's may carry its credentials."""
    if isinstance(exc, httpx.TimeoutException | asyncio.TimeoutError | TimeoutError):
        return TransientDeliveryError(f"{service} timeout after {timeout_s} s")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL | httpx.LocalProtocolError):
        # Our side cannot make the request (a bad URL or header): retrying will not mend it.
        return PermanentDeliveryError(f"{service} request invalid ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError) or is_transient(exc):
        # Refused, reset or dropped before an answer: the receiver dedupes a repeat by id.
        return TransientDeliveryError(f"{service} connection failed ({type(exc).__name__})")
    return None


class HttpProvider(Provider):
    """A provider that sends one HTTP request per message, over a pooled client."""

    # How its errors name it ("webhook 503", "SMS gateway timeout after 5.0 s").
    service: ClassVar[str]

    def __init__(self, *, rate_limit: RateLimiter | None = None) -> None:
        super().__init__(rate_limit=rate_limit)
        self.client = httpx.AsyncClient(follow_redirects=False, headers={"User-Agent": USER_AGENT})

    async def request(
        self, method: str, url: str, *, content: bytes, headers: Mapping[str, str], timeout_s: float
    ) -> None:
        """One request, bounded as a whole by `timeout_s`; raises DeliveryError unless 2xx."""
        error: DeliveryError | None = None
        try:
            # httpx's timeout counts each phase apart; a server trickling bytes must not
            # outlast it.
            async with asyncio.timeout(timeout_s):
                response = await self.client.request(
                    method, url, content=content, headers=headers, timeout=timeout_s
                )
        except Exception as exc:
            error = classify_http_error(exc, self.service, timeout_s)
            if error is None:
                raise
        else:
            error = http_status_error(
                self.service, response.status_code, response.headers.get("retry-after")
            )
        # Raised outside the handler, so httpx's exception (with the URL) is not chained to it.
        if error is not None:
            raise error

    async def aclose(self) -> None:
        await self.client.aclose()


def absolute_url(value: Any) -> str:
    """The URL as given, if it is an absolute http(s) one; ValueError otherwise."""
    url = str(value)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError("not a valid URL") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("must be an absolute http(s) URL")
    return url
