"""Status callbacks to the channels' systems (webhooks), signed as adapters sign what they send to
intake (shared/signing.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.providers import http
from services.notify.providers.base import (
    GIVE_UP_AFTER_S,
    HEADER_ATTEMPT,
    HEADER_DELIVERY_ID,
    Delivery,
    PermanentDeliveryError,
    RateLimiter,
)
from shared.signing import signature_headers
from shared.vocabulary import Medium


class WebhookTarget(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str  # absolute http(s); an HttpUrl is taken too
    key_id: str = Field(min_length=1)
    secret: SecretStr = Field(min_length=1)
    timeout_s: float = Field(5.0, gt=0, le=http.MAX_TIMEOUT_S)

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> str:
        return http.absolute_url(value)

    @property
    def path(self) -> str:
        """What the receiver sees as the path, as it is signed (raw, without the query)."""
        return httpx.URL(self.url).raw_path.decode("ascii").split("?", 1)[0]


CHANNEL_PREFIX = "channel:"


class WebhookProvider(http.HttpProvider):
    """Status callbacks to the channels' systems, signed as adapters sign what they send to
    intake (shared/signing.py)."""

    medium = Medium.WEBHOOK
    name = "webhook"
    service = "webhook"

    def __init__(
        self,
        targets: Mapping[str, WebhookTarget],
        *,
        rate_limit: RateLimiter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(rate_limit=rate_limit)
        self.targets = dict(targets)
        self.clock = clock

    @property
    def max_send_s(self) -> float:
        return max((t.timeout_s for t in self.targets.values()), default=0.0) + GIVE_UP_AFTER_S

    async def send(self, session: AsyncSession | None, delivery: Delivery) -> None:
        if not delivery.recipient.startswith(CHANNEL_PREFIX):
            raise PermanentDeliveryError("a webhook goes to a channel only")
        channel = delivery.recipient.removeprefix(CHANNEL_PREFIX)
        target = self.targets.get(channel)
        if target is None:
            raise PermanentDeliveryError(f"no webhook configured for channel {channel}")
        body = delivery.body.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            HEADER_DELIVERY_ID: str(delivery.delivery_id),
            HEADER_ATTEMPT: str(delivery.attempt),
            # Signed now, at each attempt: the receiver refuses signatures outside its window.
            **signature_headers(
                target.key_id, target.secret, "POST", target.path, body, self.clock()
            ),
        }
        await self.request(
            "POST", target.url, content=body, headers=headers, timeout_s=target.timeout_s
        )
