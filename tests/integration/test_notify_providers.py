"""Notify's providers against real local servers (no Kafka, no Postgres, no mocks): an aiosmtpd
SMTP server, and uvicorn serving a small ASGI app that records what it receives and answers
as told."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID, uuid4

import pytest
from local_servers import Mailbox, Receiver, free_port, serve, smtp_server

from services.notify.providers.base import (
    Delivery,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from services.notify.providers.sms_gateway import SmsGatewayConfig, SmsGatewayProvider
from services.notify.providers.smtp import SmtpConfig, SmtpProvider
from services.notify.providers.webhooks import WebhookProvider, WebhookTarget
from shared.signing import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, sign

EMAIL = "officer.wang@example.org"
PHONE = "+8613912345678"
SUBJECT = "诉求 DW-20261127-418305-7 已派单"
TEXT = "您的诉求已派至朝阳区城管委，\n请于 2 小时内签收。"
NOW = 1_767_225_600.0


def delivery(
    *,
    recipient: str = "officer:cw-7",
    address: str | None = EMAIL,
    body: str = TEXT,
    delivery_id: UUID | None = None,
    attempt: int = 1,
) -> Delivery:
    return Delivery(
        delivery_id=delivery_id or uuid4(),
        recipient=recipient,
        address=address,
        kind="appeal_assigned",
        subject=SUBJECT,
        body=body,
        attempt=attempt,
    )


def assert_discreet(error: DeliveryError, *secrets: str) -> None:
    """Error texts land in logs and in the delivery log: no address, phone or body, and no
    chained exception that could carry them."""
    for text in (str(error), repr(error), repr(error.args)):
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked into {text!r}"
    assert error.__cause__ is None
    assert error.__context__ is None


# --- SMTP ----------------------------------------------------------------------------------


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with smtp_server(box) as controller:
        yield box, controller.port


def smtp_config(port: int, **overrides: Any) -> SmtpConfig:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": "Jiban <notify@jiban.test>",
        "message_id_domain": "jiban.test",
        "local_hostname": "notify.jiban.test",  # no FQDN lookup per send
        "timeout_s": 5.0,
    }
    return SmtpConfig(**(values | overrides))


async def test_email_arrives_with_its_headers_and_utf8_text(mailbox):
    box, port = mailbox
    message = delivery()
    await SmtpProvider(smtp_config(port)).send(None, message)

    [mail] = box.received
    assert mail.rcpt_tos == [EMAIL]
    assert mail.mail_from == "notify@jiban.test"
    assert mail.message["To"] == EMAIL
    assert mail.message["From"].addresses[0].addr_spec == "notify@jiban.test"
    assert mail.message["Subject"] == SUBJECT
    # Text travels in canonical form (CRLF line ends), as RFC 2046 wants.
    assert mail.message.get_content().replace("\r\n", "\n") == TEXT + "\n"
    assert mail.message.get_content_charset() == "utf-8"
    assert mail.message["Message-ID"] == f"<{message.delivery_id}@jiban.test>"
    assert mail.message["X-Jiban-Delivery-Id"] == str(message.delivery_id)
    assert mail.message["Date"].datetime is not None


async def test_a_resend_carries_the_same_message_id(mailbox):
    box, port = mailbox
    provider = SmtpProvider(smtp_config(port))
    first = delivery(attempt=1)
    await provider.send(None, first)
    await provider.send(None, delivery(delivery_id=first.delivery_id, attempt=2))
    await provider.send(None, delivery())

    ids = [mail.message["Message-ID"] for mail in box.received]
    assert ids[0] == ids[1] == f"<{first.delivery_id}@jiban.test>"
    assert ids[2] != ids[0]


async def test_a_refused_recipient_is_permanent(mailbox):
    box, port = mailbox
    # The reply quotes the address, as real servers do: the error must not.
    box.rcpt_replies[EMAIL] = f"550 5.1.1 <{EMAIL}>: Recipient address rejected"
    with pytest.raises(PermanentDeliveryError) as caught:
        await SmtpProvider(smtp_config(port)).send(None, delivery())
    assert str(caught.value) == "SMTP 550 from server (recipient refused)"
    assert_discreet(caught.value, EMAIL, TEXT)
    assert box.received == []


async def test_a_recipient_refused_for_now_is_transient(mailbox):
    box, port = mailbox
    box.rcpt_replies[EMAIL] = f"451 4.7.1 <{EMAIL}>: greylisted, try again later"
    with pytest.raises(TransientDeliveryError) as caught:
        await SmtpProvider(smtp_config(port)).send(None, delivery())
    assert str(caught.value) == "SMTP 451 from server (recipient refused)"
    assert_discreet(caught.value, EMAIL, TEXT)


async def test_a_refused_message_is_permanent(mailbox):
    box, port = mailbox
    box.data_reply = "554 5.6.0 Message rejected as spam"
    with pytest.raises(PermanentDeliveryError) as caught:
        await SmtpProvider(smtp_config(port)).send(None, delivery())
    assert str(caught.value) == "SMTP 554 from server (message refused)"
    assert_discreet(caught.value, EMAIL, TEXT)


async def test_a_stopped_server_is_transient():
    with smtp_server(Mailbox()) as controller:
        port = controller.port
    # Stopped: the port refuses connections.
    with pytest.raises(TransientDeliveryError) as caught:
        await SmtpProvider(smtp_config(port)).send(None, delivery())
    assert str(caught.value).startswith("SMTP connection failed")
    assert_discreet(caught.value, EMAIL, TEXT)


async def test_a_server_that_never_greets_times_out_transiently():
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never says 220
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        with pytest.raises(TransientDeliveryError) as caught:
            await SmtpProvider(smtp_config(port, timeout_s=0.3)).send(None, delivery())
    assert str(caught.value) == "SMTP timeout after 0.3 s"
    assert_discreet(caught.value, EMAIL, TEXT)


async def test_no_address_is_permanent(mailbox):
    box, port = mailbox
    with pytest.raises(PermanentDeliveryError, match="no e-mail address"):
        await SmtpProvider(smtp_config(port)).send(None, delivery(address=None))
    assert box.received == []


# --- HTTP ----------------------------------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    app = Receiver()
    async with serve(app) as base:
        yield app, base


# --- Webhooks ------------------------------------------------------------------------------

SECRET = "webhook-secret-for-tests"
CALLBACK = json.dumps(
    {"type": "appeal_assigned", "tracking_code": "DW-20261127-418305-7", "note": "已派单"},
    ensure_ascii=False,
)


def webhook(
    base: str, path: str = "/hooks/jiban?tenant=12345", **overrides: Any
) -> WebhookProvider:
    target = WebhookTarget(url=base + path, key_id="notify-1", secret=SECRET, **overrides)
    return WebhookProvider({"hotline_12345": target}, clock=lambda: NOW)


def channel_delivery(**overrides: Any) -> Delivery:
    values: dict[str, Any] = {"recipient": "channel:hotline_12345", "address": None}
    return delivery(body=CALLBACK, **(values | overrides))


async def test_a_webhook_posts_the_body_signed(receiver):
    app, base = receiver
    provider = webhook(base)
    message = channel_delivery(attempt=3)
    try:
        await provider.send(None, message)
    finally:
        await provider.aclose()

    [request] = app.requests
    assert request.method == "POST"
    assert request.raw_path == "/hooks/jiban"
    assert request.query == "tenant=12345"
    assert request.body == CALLBACK.encode("utf-8")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-jiban-delivery-id"] == str(message.delivery_id)
    assert request.headers["x-jiban-attempt"] == "3"
    assert request.headers[HEADER_KEY.lower()] == "notify-1"
    timestamp = request.headers[HEADER_TIMESTAMP.lower()]
    assert timestamp == str(int(NOW))
    # Verified as a receiver would: over what arrived, not over what was meant to be sent.
    expected = sign(SECRET, request.method, request.raw_path, timestamp, request.body)
    assert hmac.compare_digest(request.headers[HEADER_SIGNATURE.lower()], expected)
    assert not hmac.compare_digest(
        request.headers[HEADER_SIGNATURE.lower()],
        sign("another-secret", request.method, request.raw_path, timestamp, request.body),
    )


async def test_a_webhook_503_passes_on_retry_after(receiver):
    app, base = receiver
    app.status = 503
    app.headers = {"Retry-After": "120"}
    provider = webhook(base)
    try:
        with pytest.raises(TransientDeliveryError) as caught:
            await provider.send(None, channel_delivery())
    finally:
        await provider.aclose()
    assert caught.value.retry_after_s == 120


async def test_a_closed_port_is_transient():
    provider = webhook(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(TransientDeliveryError) as caught:
            await provider.send(None, channel_delivery())
    finally:
        await provider.aclose()
    assert str(caught.value).startswith("webhook connection failed")
    assert_discreet(caught.value, CALLBACK, "127.0.0.1", SECRET)


async def test_an_unknown_channel_is_permanent(receiver):
    app, base = receiver
    provider = webhook(base)
    try:
        with pytest.raises(PermanentDeliveryError) as caught:
            await provider.send(None, channel_delivery(recipient="channel:app_beijing"))
    finally:
        await provider.aclose()
    assert str(caught.value) == "no webhook configured for channel app_beijing"
    assert app.requests == []


async def test_a_slow_webhook_times_out_transiently(receiver):
    app, base = receiver
    app.delay_s = 1.0
    provider = webhook(base, timeout_s=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(TransientDeliveryError) as caught:
            await provider.send(None, channel_delivery())
    finally:
        await provider.aclose()
    assert loop.time() - started < 0.9  # gave up at the timeout, did not wait for the answer
    assert str(caught.value) == "webhook timeout after 0.3 s"
    assert_discreet(caught.value, CALLBACK, SECRET)
    assert len(app.requests) == 1


# --- SMS gateway ---------------------------------------------------------------------------

TOKEN = "Bearer sms-vendor-token-123"


def sms(base: str, **overrides: Any) -> SmsGatewayProvider:
    values: dict[str, Any] = {
        "url": f"{base}/v2/sms/send?account=jiban",
        "headers": {"Authorization": TOKEN},
    }
    return SmsGatewayProvider(SmsGatewayConfig(**(values | overrides)))


def sms_delivery(**overrides: Any) -> Delivery:
    return delivery(**({"recipient": "appellant", "address": PHONE} | overrides))


async def test_the_gateway_receives_the_rendered_body_and_auth(receiver):
    app, base = receiver
    provider = sms(base)
    message = sms_delivery()
    try:
        await provider.send(None, message)
    finally:
        await provider.aclose()

    [request] = app.requests
    assert request.method == "POST"
    assert request.raw_path == "/v2/sms/send"
    assert request.query == "account=jiban"
    assert request.headers["authorization"] == TOKEN
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-jiban-delivery-id"] == str(message.delivery_id)
    assert json.loads(request.body) == {
        "to": PHONE,
        "text": TEXT,
        "ref": str(message.delivery_id),
    }


async def test_a_vendor_form_template_is_rendered(receiver):
    app, base = receiver
    provider = sms(
        base,
        method="PUT",
        content_type="application/x-www-form-urlencoded",
        body_template=(
            "mobile={{ phone|urlencode }}&content={{ text|urlencode }}"
            "&ref={{ delivery_id }}&tag={{ kind }}"
        ),
    )
    message = sms_delivery(body="回复 1 表示满意 & 谢谢")
    try:
        await provider.send(None, message)
    finally:
        await provider.aclose()

    [request] = app.requests
    assert request.method == "PUT"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode("ascii")) == {
        "mobile": [PHONE],
        "content": ["回复 1 表示满意 & 谢谢"],
        "ref": [str(message.delivery_id)],
        "tag": ["appeal_assigned"],
    }


async def test_a_gateway_that_is_down_is_transient():
    provider = sms(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(TransientDeliveryError) as caught:
            await provider.send(None, sms_delivery())
    finally:
        await provider.aclose()
    # The URL may carry the vendor's credentials in its query: not in the error either.
    assert_discreet(caught.value, PHONE, TEXT, TOKEN, "account=jiban")


async def test_no_phone_is_permanent(receiver):
    app, base = receiver
    provider = sms(base)
    try:
        with pytest.raises(PermanentDeliveryError, match="no phone number"):
            await provider.send(None, sms_delivery(address=None))
    finally:
        await provider.aclose()
    assert app.requests == []


# --- Both HTTP providers ----------------------------------------------------------------------

# (provider, what it sends, its name in errors, what its errors must not show)
HTTP_PROVIDERS = {
    "webhook": (webhook, channel_delivery, "webhook", (CALLBACK, "已派单", SECRET)),
    "sms_gateway": (
        sms,
        sms_delivery,
        "SMS gateway",
        (PHONE, "13912345678", TEXT, TOKEN, "sms-vendor-token"),
    ),
}


@pytest.mark.parametrize("name", sorted(HTTP_PROVIDERS))
@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, None),
        (204, None),
        (408, TransientDeliveryError),
        (429, TransientDeliveryError),
        (500, TransientDeliveryError),
        (502, TransientDeliveryError),
        (503, TransientDeliveryError),
        (400, PermanentDeliveryError),
        (401, PermanentDeliveryError),
        (404, PermanentDeliveryError),
        (410, PermanentDeliveryError),
        (422, PermanentDeliveryError),
    ],
)
async def test_http_answers_are_classified(receiver, name, status, outcome):
    make, message, service, secrets = HTTP_PROVIDERS[name]
    app, base = receiver
    app.status = status
    provider = make(base)
    try:
        if outcome is None:
            await provider.send(None, message())
        else:
            with pytest.raises(outcome) as caught:
                await provider.send(None, message())
            assert str(caught.value) == f"{service} {status}"
            assert_discreet(caught.value, *secrets)
    finally:
        await provider.aclose()
    assert len(app.requests) == 1
