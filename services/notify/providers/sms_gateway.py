"""SMS through an operator's HTTP gateway: the vendor's URL, headers and body (a sandboxed Jinja2
template from configuration, tried at start-up)."""

from __future__ import annotations

import json
from typing import Any, Literal

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.providers import http
from services.notify.providers.base import (
    GIVE_UP_AFTER_S,
    HEADER_DELIVERY_ID,
    Delivery,
    PermanentDeliveryError,
    RateLimiter,
)
from shared.vocabulary import Medium

DEFAULT_SMS_BODY_TEMPLATE = (
    '{"to": {{ phone|tojson }}, "text": {{ text|tojson }}, "ref": {{ delivery_id|tojson }}}'
)
# What a template is tried on when the configuration is read: quotes, a line break and Chinese,
# so that a template that does not escape (no `tojson`) is refused at start-up, not per message.
_SAMPLE = {
    "phone": "+8613800000000",
    "text": 'a "quoted"\nline — 中文',
    "delivery_id": "00000000-0000-0000-0000-000000000000",
    "kind": "sample",
}
# Sandboxed: the template comes from configuration and must not reach into Python.
_SMS_TEMPLATES = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


def sms_template(source: str) -> jinja2.Template:
    """Compiles an SMS body template; ValueError if it does not compile."""
    try:
        return _SMS_TEMPLATES.from_string(source)
    except jinja2.TemplateError as exc:
        raise ValueError(f"SMS body template: {exc}") from exc


def render_sms_body(template: jinja2.Template, delivery: Delivery) -> str:
    return template.render(
        phone=delivery.address,
        text=delivery.body,
        delivery_id=str(delivery.delivery_id),
        kind=delivery.kind,
    )


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class SmsGatewayConfig(BaseModel):
    """An operator's SMS vendor behind an HTTP API: where, how, and the body it wants."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    method: Literal["POST", "PUT"] = "POST"
    # E.g. {"Authorization": "Bearer …"}; all kept secret (they are mostly credentials).
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    # Jinja2 over phone, text, delivery_id, kind; any other name is an error.
    body_template: str = DEFAULT_SMS_BODY_TEMPLATE
    content_type: str = "application/json"
    timeout_s: float = Field(5.0, gt=0, le=http.MAX_TIMEOUT_S)

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> str:
        return http.absolute_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, secret in value.items():
            plain = secret.get_secret_value()
            if not name or any(c in name + plain for c in "\r\n") or ":" in name:
                raise ValueError("header names and values must be single lines")
        return value

    @model_validator(mode="after")
    def _template_renders(self) -> SmsGatewayConfig:
        template = sms_template(self.body_template)
        try:
            sample = template.render(**_SAMPLE)
        # Not only TemplateError: a filter given an undefined name (tojson) raises TypeError.
        except Exception as exc:
            raise ValueError(f"SMS body template: {type(exc).__name__}: {exc}") from exc
        if _is_json(self.content_type):
            try:
                json.loads(sample)
            except ValueError as exc:
                raise ValueError(
                    "SMS body template does not render JSON (use |tojson on values)"
                ) from exc
        return self


class SmsGatewayProvider(http.HttpProvider):
    medium = Medium.SMS
    name = "sms_gateway"
    service = "SMS gateway"

    def __init__(self, config: SmsGatewayConfig, *, rate_limit: RateLimiter | None = None) -> None:
        super().__init__(rate_limit=rate_limit)
        self.config = config
        self.template = sms_template(config.body_template)

    @property
    def max_send_s(self) -> float:
        return self.config.timeout_s + GIVE_UP_AFTER_S

    def render(self, delivery: Delivery) -> bytes:
        failed: str | None = None
        try:
            return render_sms_body(self.template, delivery).encode("utf-8")
        except Exception as exc:  # a filter's TypeError as much as a TemplateError
            failed = type(exc).__name__
        # The template was tried at start-up; what fails now fails for this message only (and
        # the template error, which may quote the text, is not chained).
        raise PermanentDeliveryError(f"SMS body template failed ({failed})")

    async def send(self, session: AsyncSession | None, delivery: Delivery) -> None:
        if not delivery.address:
            raise PermanentDeliveryError("no phone number")
        body = self.render(delivery)
        config = self.config
        headers = {
            "Content-Type": config.content_type,
            **{name: value.get_secret_value() for name, value in config.headers.items()},
            HEADER_DELIVERY_ID: str(delivery.delivery_id),
        }
        await self.request(
            config.method, config.url, content=body, headers=headers, timeout_s=config.timeout_s
        )
