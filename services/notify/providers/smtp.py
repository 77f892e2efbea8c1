"""E-mail through an SMTP server (aiosmtplib): one connection per message, a stable Message-ID
per delivery, and the server's answers classified as transient or permanent."""

from __future__ import annotations

import asyncio
import email.errors
import email.policy
import email.utils
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from uuid import UUID

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.providers.base import (
    GIVE_UP_AFTER_S,
    HEADER_DELIVERY_ID,
    Delivery,
    DeliveryError,
    PermanentDeliveryError,
    Provider,
    RateLimiter,
    TransientDeliveryError,
)
from shared.failures import is_transient
from shared.vocabulary import Medium

# The longest a send may be configured to take (the delivery lease follows from it).
MAX_TIMEOUT_S = 120.0

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
    # The whole send: connect to the server's last answer.
    timeout_s: float = Field(10.0, gt=0, le=MAX_TIMEOUT_S)
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

    @property
    def max_send_s(self) -> float:
        return self.config.timeout_s + GIVE_UP_AFTER_S

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
