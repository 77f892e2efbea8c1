"""Delivery providers behind one interface: e-mail (SMTP), SMS (an operator's HTTP gateway),
signed webhooks to the channels' systems, and the recording provider (the development default,
which keeps each message in notify's own table).

A provider returns when the message was accepted and raises a `DeliveryError` otherwise:
transient (try again later) or permanent (give up). Error texts go to logs and to the delivery
log, so they name the status or the failure, never the address, the phone number or the body,
and they carry no chained exception (whose text might)."""

from __future__ import annotations

import asyncio
import email.errors
import email.policy
import email.utils
import json
import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, ClassVar, Literal
from uuid import UUID

import aiosmtplib
import httpx
import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import store
from shared.failures import is_transient
from shared.signing import signature_headers
from shared.vocabulary import Medium

HEADER_DELIVERY_ID = "X-Jiban-Delivery-Id"
HEADER_ATTEMPT = "X-Jiban-Attempt"
USER_AGENT = "jiban-notify"


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

    @abstractmethod
    async def send(self, session: AsyncSession | None, delivery: Delivery) -> None:
        """Returns when the message was accepted; raises DeliveryError otherwise."""

    async def aclose(self) -> None:  # noqa: B027 - most providers pool nothing
        """Closes pooled clients."""


class RecordingProvider(Provider):
    medium = Medium.RECORD
    name = "record"
    needs_session = True

    async def send(self, session: AsyncSession | None, delivery: Delivery) -> None:
        if session is None:
            raise TypeError("the recording provider writes in the caller's transaction")
        # Keyed by notification id, so recording the same delivery twice keeps one row.
        await session.execute(
            insert(store.recorded_messages)
            .values(
                notification_id=delivery.delivery_id,
                recipient=delivery.recipient,
                kind=delivery.kind,
                body=delivery.body,
            )
            .on_conflict_do_nothing(index_elements=["notification_id"])
        )


# --- E-mail (SMTP) -------------------------------------------------------------------------

_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


class SmtpConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(25, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(min_length=3)  # the From header, e.g. "Jiban <jiban@example.org>"
    use_tls: bool = False  # TLS from the first byte (port 465)
    start_tls: bool | None = None  # None: upgrade when the server offers it
    timeout_s: float = Field(10.0, gt=0)  # the whole send: connect to the server's last answer
    # The right-hand side of each Message-ID (<delivery id@domain>).
    message_id_domain: str = "jiban.local"
    # The name we give in EHLO; None: the host's FQDN (a DNS lookup on every send).
    local_hostname: str | None = None

    @field_validator("message_id_domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not _DOMAIN.match(value):
            raise ValueError("must be a domain name")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SmtpConfig:
        if self.use_tls and self.start_tls:
            raise ValueError("use_tls and start_tls exclude each other")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if not _valid_address(self.sender):
            raise ValueError("sender must be an e-mail address")
        return self


def _valid_address(address: str) -> bool:
    """One mailbox, with no room for header injection; the server judges the rest."""
    if "\r" in address or "\n" in address:
        return False
    _, mailbox = email.utils.parseaddr(address)
    return "@" in mailbox and " " not in mailbox


def _set_recipient(message: EmailMessage, address: str) -> bool:
    """False when the address does not make one mailbox (the parser's error is dropped: it
    quotes the address)."""
    try:
        message["To"] = address
        mailboxes = message["To"].addresses
    except (ValueError, email.errors.MessageError):
        return False
    return len(mailboxes) == 1 and "@" in mailboxes[0].addr_spec


def envelope_recipient(message: EmailMessage) -> str:
    return str(message["To"].addresses[0].addr_spec)


def message_id(delivery_id: UUID, domain: str) -> str:
    """Stable across retries: a resend after a crash repeats it, and receivers drop the copy."""
    return f"<{delivery_id}@{domain}>"


def build_email(config: SmtpConfig, delivery: Delivery, now: datetime) -> EmailMessage:
    """Raises PermanentDeliveryError for a message that cannot be written."""
    address = delivery.address
    if not address:
        raise PermanentDeliveryError("no e-mail address")
    if not _valid_address(address):
        raise PermanentDeliveryError("invalid e-mail address")
    subject = delivery.subject or delivery.body.strip().split("\n", 1)[0][:80]
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = config.sender
    if not _set_recipient(message, address):
        raise PermanentDeliveryError("invalid e-mail address")
    # Line breaks in a header would start new headers.
    message["Subject"] = " ".join(subject.split())
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = message_id(delivery.delivery_id, config.message_id_domain)
    message[HEADER_DELIVERY_ID] = str(delivery.delivery_id)
    # RFC 3834: a notification, so vacation autoresponders do not answer it.
    message["Auto-Submitted"] = "auto-generated"
    # Base64 keeps non-ASCII text intact whether or not the server takes 8-bit data.
    message.set_content(
        delivery.body, charset="utf-8", cte=None if delivery.body.isascii() else "base64"
    )
    return message


def _smtp_code_error(code: int, stage: str) -> DeliveryError:
    text = f"SMTP {code} from server ({stage})"
    if 400 <= code < 500:
        return TransientDeliveryError(text)
    if 500 <= code < 600:
        return PermanentDeliveryError(text)
    # Anything else is a server talking nonsense; it may be sane again later.
    return TransientDeliveryError(text)


def classify_smtp_error(exc: BaseException, timeout_s: float) -> DeliveryError | None:
    """The DeliveryError for what aiosmtplib raised; None for what is not a delivery failure
    (a bug, to propagate). The server's reply text is left out: it often quotes the address."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients] or [0]
        return _smtp_code_error(max(codes), "recipient refused")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        stage = {
            aiosmtplib.SMTPRecipientRefused: "recipient refused",
            aiosmtplib.SMTPSenderRefused: "sender refused",
            aiosmtplib.SMTPDataError: "message refused",
            aiosmtplib.SMTPHeloError: "HELO refused",
            aiosmtplib.SMTPAuthenticationError: "authentication refused",
            aiosmtplib.SMTPConnectResponseError: "greeting",
        }.get(type(exc), "command refused")
        return _smtp_code_error(exc.code, stage)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | asyncio.TimeoutError | TimeoutError):
        return TransientDeliveryError(f"SMTP timeout after {timeout_s} s")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        # The server lacks what this message needs (SMTPUTF8 for a non-ASCII address, STARTTLS).
        return PermanentDeliveryError("SMTP server does not support what the message needs")
    if isinstance(exc, aiosmtplib.SMTPException) or is_transient(exc):
        # Connection refused or lost, TLS failures and other trouble on the line.
        return TransientDeliveryError(f"SMTP connection failed ({type(exc).__name__})")
    if isinstance(exc, ValueError):
        # aiosmtplib refusing an address it cannot send safely.
        return PermanentDeliveryError("e-mail address refused by the client")
    return None


class SmtpProvider(Provider):
    medium = Medium.EMAIL
    name = "smtp"

    def __init__(
        self,
        config: SmtpConfig,
        *,
        rate_limit: RateLimiter | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(rate_limit=rate_limit)
        self.config = config
        self.clock = clock

    async def send(self, session: AsyncSession | None, delivery: Delivery) -> None:
        message = build_email(self.config, delivery, self.clock())
        config = self.config
        error: DeliveryError | None = None
        try:
            # One connection per message: nothing to keep alive or to find dead between sends.
            async with asyncio.timeout(config.timeout_s):
                await aiosmtplib.send(
                    message,
                    recipients=[envelope_recipient(message)],
                    hostname=config.host,
                    port=config.port,
                    username=config.username,
                    password=config.password.get_secret_value() if config.password else None,
                    use_tls=config.use_tls,
                    start_tls=config.start_tls,
                    timeout=config.timeout_s,
                    local_hostname=config.local_hostname,
                )
        except Exception as exc:
            error = classify_smtp_error(exc, config.timeout_s)
            if error is None:
                raise
        # Raised outside the handler, so the original (which may quote the address) is not
        # chained to it.
        if error is not None:
            raise error


# --- HTTP: webhooks and the SMS gateway -----------------------------------------------------


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


async def _request(
    client: httpx.AsyncClient,
    service: str,
    method: str,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
) -> None:
    """One request, bounded as a whole by `timeout_s`; raises DeliveryError unless 2xx."""
    error: DeliveryError | None = None
    try:
        # httpx's timeout counts each phase apart; a server trickling bytes must not outlast it.
        async with asyncio.timeout(timeout_s):
            response = await client.request(
                method, url, content=content, headers=headers, timeout=timeout_s
            )
    except Exception as exc:
        error = classify_http_error(exc, service, timeout_s)
        if error is None:
            raise
    else:
        error = http_status_error(
            service, response.status_code, response.headers.get("retry-after")
        )
    # Raised outside the handler, so httpx's exception (with the URL) is not chained to it.
    if error is not None:
        raise error


def _http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(follow_redirects=False, headers={"User-Agent": USER_AGENT})


def _http_url(value: Any) -> str:
    url = str(value)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError("not a valid URL") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("must be an absolute http(s) URL")
    return url


class WebhookTarget(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str  # absolute http(s); an HttpUrl is taken too
    key_id: str = Field(min_length=1)
    secret: SecretStr = Field(min_length=1)
    timeout_s: float = Field(5.0, gt=0)

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> str:
        return _http_url(value)

    @property
    def path(self) -> str:
        """What the receiver sees as the path, as it is signed (raw, without the query)."""
        return httpx.URL(self.url).raw_path.decode("ascii").split("?", 1)[0]


CHANNEL_PREFIX = "channel:"


class WebhookProvider(Provider):
    """Status callbacks to the channels' systems, signed as adapters sign what they send to
    intake (shared/signing.py)."""

    medium = Medium.WEBHOOK
    name = "webhook"

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
        self.client = _http_client()

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
        await _request(
            self.client,
            "webhook",
            "POST",
            target.url,
            content=body,
            headers=headers,
            timeout_s=target.timeout_s,
        )

    async def aclose(self) -> None:
        await self.client.aclose()


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
    timeout_s: float = Field(5.0, gt=0)

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> str:
        return _http_url(value)

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


class SmsGatewayProvider(Provider):
    medium = Medium.SMS
    name = "sms_gateway"

    def __init__(self, config: SmsGatewayConfig, *, rate_limit: RateLimiter | None = None) -> None:
        super().__init__(rate_limit=rate_limit)
        self.config = config
        self.template = sms_template(config.body_template)
        self.client = _http_client()

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
        await _request(
            self.client,
            "SMS gateway",
            config.method,
            config.url,
            content=body,
            headers=headers,
            timeout_s=config.timeout_s,
        )

    async def aclose(self) -> None:
        await self.client.aclose()


# --- Assembly ------------------------------------------------------------------------------

PROVIDER_NAMES = frozenset({"record", "smtp", "sms_gateway", "webhook"})


def build_providers(
    *,
    smtp: SmtpConfig | None,
    sms: SmsGatewayConfig | None,
    webhooks: Mapping[str, WebhookTarget],
    rates: Mapping[str, float] | None = None,
) -> dict[Medium, Provider]:
    """The configured providers, and always the recording one. `rates`: messages per second
    by provider name, bursts of one second's worth; a name not known is refused (a typo would
    otherwise leave the provider unlimited)."""
    rates = dict(rates or {})
    unknown = set(rates) - PROVIDER_NAMES
    if unknown:
        raise ValueError(
            f"rate limits for unknown providers {sorted(unknown)}; known: {sorted(PROVIDER_NAMES)}"
        )

    def limit(name: str) -> RateLimiter | None:
        rate = rates.get(name)
        return None if rate is None else RateLimiter(rate, default_burst(rate))

    providers: list[Provider] = [RecordingProvider(rate_limit=limit("record"))]
    if smtp is not None:
        providers.append(SmtpProvider(smtp, rate_limit=limit("smtp")))
    if sms is not None:
        providers.append(SmsGatewayProvider(sms, rate_limit=limit("sms_gateway")))
    if webhooks:
        providers.append(WebhookProvider(webhooks, rate_limit=limit("webhook")))
    return {provider.medium: provider for provider in providers}
