"""Notify's providers, the pure parts: the rate limit's bucket, how answers are classified, the
SMS body template, the e-mail as written, the configuration checks, and the assembly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from uuid import UUID

import aiosmtplib
import httpx
import pytest
from pydantic import HttpUrl, ValidationError

from services.notify.providers.assembly import build_providers
from services.notify.providers.base import (
    Delivery,
    DeliveryError,
    PermanentDeliveryError,
    RateLimiter,
    TransientDeliveryError,
    default_burst,
)
from services.notify.providers.http import classify_http_error, http_status_error
from services.notify.providers.recording import RecordingProvider
from services.notify.providers.sms_gateway import (
    DEFAULT_SMS_BODY_TEMPLATE,
    SmsGatewayConfig,
    SmsGatewayProvider,
    render_sms_body,
    sms_template,
)
from services.notify.providers.smtp import (
    SmtpConfig,
    SmtpProvider,
    build_email,
    classify_smtp_error,
    message_id,
)
from services.notify.providers.webhooks import WebhookProvider, WebhookTarget
from shared.vocabulary import Medium

DELIVERY_ID = UUID("3f2c1a4e-8b7d-4c2a-9e1f-0a1b2c3d4e5f")
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
EMAIL = "officer.wang@example.org"


def delivery(**overrides: object) -> Delivery:
    values: dict[str, object] = {
        "delivery_id": DELIVERY_ID,
        "recipient": "appellant",
        "address": "+8613912345678",
        "kind": "appeal_received",
        "subject": "诉求已受理",
        "body": "您的诉求已受理，编号 DW-20261127-418305-7。",
        "attempt": 1,
    }
    return Delivery(**(values | overrides))  # type: ignore[arg-type]


# --- The rate limit ------------------------------------------------------------------------


def test_the_bucket_starts_full_then_refuses():
    bucket = RateLimiter(rate_per_s=2, burst=3)
    assert [bucket.try_acquire(100.0) for _ in range(4)] == [True, True, True, False]


def test_the_bucket_refills_at_its_rate():
    bucket = RateLimiter(rate_per_s=10, burst=1)
    assert bucket.try_acquire(0.0)
    assert not bucket.try_acquire(0.05)  # half a token
    assert bucket.try_acquire(0.1)  # float error must not cost the whole token
    assert not bucket.try_acquire(0.1)


def test_the_bucket_holds_no_more_than_its_burst():
    bucket = RateLimiter(rate_per_s=1, burst=2)
    bucket.try_acquire(0.0)
    # An hour idle still allows just the burst.
    assert [bucket.try_acquire(3600.0) for _ in range(3)] == [True, True, False]


def test_sustained_rate_is_the_configured_one():
    bucket = RateLimiter(rate_per_s=5, burst=5)
    granted = sum(bucket.try_acquire(t / 100) for t in range(1001))  # 10 s, polled every 10 ms
    assert granted == 5 + 5 * 10  # the burst, then the rate × the time


def test_a_clock_going_back_grants_nothing():
    bucket = RateLimiter(rate_per_s=1, burst=1)
    assert bucket.try_acquire(10.0)
    assert not bucket.try_acquire(5.0)
    assert not bucket.try_acquire(10.5)  # still measured from 10.0
    assert bucket.try_acquire(11.0)


def test_wait_says_when_a_token_comes():
    bucket = RateLimiter(rate_per_s=4, burst=1)
    assert bucket.wait_s(0.0) == 0
    bucket.try_acquire(0.0)
    assert bucket.wait_s(0.0) == pytest.approx(0.25)
    assert bucket.wait_s(0.2) == pytest.approx(0.05)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_a_bucket_that_could_never_send_is_refused(rate, burst):
    with pytest.raises(ValueError):
        RateLimiter(rate, burst)


@pytest.mark.parametrize(("rate", "burst"), [(0.2, 1), (1, 1), (2.5, 3), (20, 20)])
def test_the_default_burst_is_a_second_worth(rate, burst):
    assert default_burst(rate) == burst


# --- Errors --------------------------------------------------------------------------------


def test_error_kinds():
    assert DeliveryError("x").transient is True  # a failure nobody classified: try again
    assert DeliveryError("x", transient=False).transient is False
    assert TransientDeliveryError("x").transient is True
    assert PermanentDeliveryError("x").transient is False
    assert TransientDeliveryError("x").retry_after_s is None


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_success(status):
    assert http_status_error("webhook", status) is None


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 599])
def test_statuses_that_may_pass_later_are_transient(status):
    error = http_status_error("webhook", status)
    assert isinstance(error, TransientDeliveryError)
    assert str(error) == f"webhook {status}"


@pytest.mark.parametrize("status", [301, 302, 400, 401, 403, 404, 405, 409, 410, 413, 422])
def test_other_answers_are_permanent(status):
    error = http_status_error("SMS gateway", status)
    assert isinstance(error, PermanentDeliveryError)
    assert str(error) == f"SMS gateway {status}"


def test_retry_after_in_seconds_or_as_a_date():
    assert http_status_error("webhook", 429, "30").retry_after_s == 30  # type: ignore[union-attr]
    later = format_datetime(NOW + timedelta(minutes=2), usegmt=True)
    error = http_status_error("webhook", 503, later, NOW)
    assert error.retry_after_s == 120  # type: ignore[union-attr]
    assert http_status_error("webhook", 503, "soon").retry_after_s is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("exc", "kind", "text"),
    [
        (httpx.ConnectError("refused"), TransientDeliveryError, "webhook connection failed"),
        (httpx.ReadTimeout("slow"), TransientDeliveryError, "webhook timeout after 5.0 s"),
        (TimeoutError(), TransientDeliveryError, "webhook timeout after 5.0 s"),
        (httpx.RemoteProtocolError("eof"), TransientDeliveryError, "webhook connection failed"),
        (httpx.UnsupportedProtocol("ftp"), PermanentDeliveryError, "webhook request invalid"),
    ],
)
def test_http_failures_are_classified(exc, kind, text):
    error = classify_http_error(exc, "webhook", 5.0)
    assert type(error) is kind
    assert str(error).startswith(text)


def test_a_bug_is_not_a_delivery_failure():
    assert classify_http_error(KeyError("x"), "webhook", 5.0) is None
    assert classify_smtp_error(KeyError("x"), 10.0) is None


def refused(code: int) -> aiosmtplib.SMTPRecipientsRefused:
    return aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(code, f"<{EMAIL}> no such user", EMAIL)]
    )


@pytest.mark.parametrize(
    ("exc", "kind", "text"),
    [
        (refused(550), PermanentDeliveryError, "SMTP 550 from server (recipient refused)"),
        (refused(452), TransientDeliveryError, "SMTP 452 from server (recipient refused)"),
        (
            aiosmtplib.SMTPDataError(554, "spam"),
            PermanentDeliveryError,
            "SMTP 554 from server (message refused)",
        ),
        (
            aiosmtplib.SMTPDataError(451, "local error"),
            TransientDeliveryError,
            "SMTP 451 from server (message refused)",
        ),
        (
            aiosmtplib.SMTPSenderRefused(553, "not yours", "a@b"),
            PermanentDeliveryError,
            "SMTP 553 from server (sender refused)",
        ),
        (
            aiosmtplib.SMTPAuthenticationError(535, "bad credentials"),
            PermanentDeliveryError,
            "SMTP 535 from server (authentication refused)",
        ),
        (
            aiosmtplib.SMTPConnectResponseError(421, "too busy"),
            TransientDeliveryError,
            "SMTP 421 from server (greeting)",
        ),
        (
            aiosmtplib.SMTPReadTimeoutError("slow"),
            TransientDeliveryError,
            "SMTP timeout after 10.0 s",
        ),
        (
            aiosmtplib.SMTPServerDisconnected("gone"),
            TransientDeliveryError,
            "SMTP connection failed (SMTPServerDisconnected)",
        ),
        (ConnectionRefusedError(), TransientDeliveryError, "SMTP connection failed"),
        (
            aiosmtplib.SMTPNotSupported("SMTPUTF8"),
            PermanentDeliveryError,
            "SMTP server does not support what the message needs",
        ),
    ],
)
def test_smtp_failures_are_classified(exc, kind, text):
    error = classify_smtp_error(exc, 10.0)
    assert type(error) is kind
    assert str(error).startswith(text)
    assert EMAIL not in str(error)


# --- E-mail --------------------------------------------------------------------------------


def smtp_config(**overrides: object) -> SmtpConfig:
    values: dict[str, object] = {"host": "mail.example.org", "sender": "Jiban <notify@jiban.cn>"}
    return SmtpConfig(**(values | overrides))  # type: ignore[arg-type]


def test_the_message_id_is_the_delivery_id():
    assert message_id(DELIVERY_ID, "jiban.local") == f"<{DELIVERY_ID}@jiban.local>"
    assert smtp_config().message_id_domain == "jiban.local"


def test_the_email_as_written():
    message = build_email(
        smtp_config(message_id_domain="gov.example"), delivery(address=EMAIL), NOW
    )
    assert message["Message-ID"] == f"<{DELIVERY_ID}@gov.example>"
    assert message["X-Jiban-Delivery-Id"] == str(DELIVERY_ID)
    assert message["To"] == EMAIL
    assert message["Subject"] == "诉求已受理"
    assert message["Date"] == format_datetime(NOW)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_charset() == "utf-8"
    assert message["Content-Transfer-Encoding"] == "base64"


def test_an_ascii_email_stays_readable():
    message = build_email(smtp_config(), delivery(address=EMAIL, body="Case opened."), NOW)
    assert message["Content-Transfer-Encoding"] == "7bit"


def test_a_subject_cannot_inject_headers():
    message = build_email(
        smtp_config(), delivery(address=EMAIL, subject="Hi\r\nBcc: all@example.org"), NOW
    )
    assert message["Subject"] == "Hi Bcc: all@example.org"
    assert message["Bcc"] is None


def test_without_a_subject_the_first_line_stands_in():
    message = build_email(
        smtp_config(), delivery(address=EMAIL, subject=None, body="First line\nsecond"), NOW
    )
    assert message["Subject"] == "First line"


@pytest.mark.parametrize(
    "address",
    [None, "", "not-an-address", "a@b.org\r\nBcc: c@d.org", "a@b.org, c@d.org", "a b@c.org"],
)
def test_an_address_that_is_not_one_mailbox_is_permanent(address):
    with pytest.raises(PermanentDeliveryError) as caught:
        build_email(smtp_config(), delivery(address=address), NOW)
    if address:
        assert address not in str(caught.value)
    assert caught.value.__context__ is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"use_tls": True, "start_tls": True},
        {"username": "jiban"},
        {"password": "secret"},
        {"sender": "nobody"},
        {"message_id_domain": "bad domain"},
        {"message_id_domain": "<x>"},
        {"port": 0},
        {"timeout_s": 0},
    ],
)
def test_smtp_config_is_checked(overrides):
    with pytest.raises(ValidationError):
        smtp_config(**overrides)


def test_the_smtp_password_stays_secret():
    config = smtp_config(username="jiban", password="hunter2")
    assert "hunter2" not in repr(config)


# --- Webhook targets -----------------------------------------------------------------------


def test_a_webhook_target_signs_the_raw_path_without_the_query():
    target = WebhookTarget(
        url="https://hotline.example.gov.cn/cb/%E5%9B%9E%E8%B0%83?t=1", key_id="k", secret="s"
    )
    assert target.path == "/cb/%E5%9B%9E%E8%B0%83"
    assert target.timeout_s == 5.0
    assert "s" != repr(target.secret)


def test_a_webhook_target_takes_an_http_url():
    target = WebhookTarget(url=HttpUrl("https://a.example.org/x"), key_id="k", secret="s")
    assert target.url == "https://a.example.org/x"


@pytest.mark.parametrize("url", ["ftp://a.example.org/x", "/relative", "https://", "not a url"])
def test_a_webhook_target_needs_an_http_url(url):
    with pytest.raises(ValidationError):
        WebhookTarget(url=url, key_id="k", secret="s")


# --- The SMS body --------------------------------------------------------------------------


def test_the_default_template_renders_json_with_everything_escaped():
    text = '回复 "1" 表示满意\n</script>'
    rendered = render_sms_body(sms_template(DEFAULT_SMS_BODY_TEMPLATE), delivery(body=text))
    assert json.loads(rendered) == {
        "to": "+8613912345678",
        "text": text,
        "ref": str(DELIVERY_ID),
    }


def test_the_template_sees_the_kind():
    template = sms_template('{"k": {{ kind|tojson }}, "n": {{ (text|length)|tojson }}}')
    assert json.loads(render_sms_body(template, delivery(body="四个汉字"))) == {
        "k": "appeal_received",
        "n": 4,
    }


@pytest.mark.parametrize(
    ("template", "content_type"),
    [
        ('{"to": {{ phone|tojson }}, "sign": {{ signature|tojson }}}', "application/json"),
        ('{"to": "{{ phone }}", "text": "{{ text }}"}', "application/json"),  # unescaped
        ("{{ phone", "text/plain"),
        ("{{ ''.__class__.__mro__ }}", "text/plain"),  # the sandbox refuses
    ],
)
def test_a_bad_template_is_refused_at_start_up(template, content_type):
    with pytest.raises(ValidationError):
        SmsGatewayConfig(
            url="https://sms.example.com/send", body_template=template, content_type=content_type
        )


def test_a_form_template_need_not_be_json():
    config = SmsGatewayConfig(
        url="https://sms.example.com/send",
        body_template="to={{ phone|urlencode }}&msg={{ text|urlencode }}",
        content_type="application/x-www-form-urlencoded",
    )
    assert config.method == "POST"


def test_gateway_config_defaults_and_secrets():
    config = SmsGatewayConfig(
        url="https://sms.example.com/send", headers={"Authorization": "Bearer t0ken"}
    )
    assert config.body_template == DEFAULT_SMS_BODY_TEMPLATE
    assert config.content_type == "application/json"
    assert config.timeout_s == 5.0
    assert "t0ken" not in repr(config)


@pytest.mark.parametrize("headers", [{"X-A": "v\r\nX-B: w"}, {"X:A": "v"}, {"": "v"}])
def test_gateway_headers_are_single_lines(headers):
    with pytest.raises(ValidationError):
        SmsGatewayConfig(url="https://sms.example.com/send", headers=headers)


# --- Assembly ------------------------------------------------------------------------------


async def test_without_configuration_only_the_recording_provider():
    providers = build_providers(smtp=None, sms=None, webhooks={})
    assert set(providers) == {Medium.RECORD}
    record = providers[Medium.RECORD]
    assert isinstance(record, RecordingProvider)
    assert record.needs_session and record.rate_limit is None


async def test_each_configured_provider_with_its_own_limit():
    providers = build_providers(
        smtp=smtp_config(),
        sms=SmsGatewayConfig(url="https://sms.example.com/send"),
        webhooks={
            "hotline_12345": WebhookTarget(url="https://h.example/cb", key_id="k", secret="s")
        },
        rates={"sms_gateway": 20, "webhook": 0.5},
    )
    try:
        assert set(providers) == {Medium.RECORD, Medium.EMAIL, Medium.SMS, Medium.WEBHOOK}
        assert isinstance(providers[Medium.EMAIL], SmtpProvider)
        assert isinstance(providers[Medium.SMS], SmsGatewayProvider)
        assert isinstance(providers[Medium.WEBHOOK], WebhookProvider)
        assert {m: p.name for m, p in providers.items()} == {
            Medium.RECORD: "record",
            Medium.EMAIL: "smtp",
            Medium.SMS: "sms_gateway",
            Medium.WEBHOOK: "webhook",
        }
        assert providers[Medium.EMAIL].rate_limit is None
        sms_limit = providers[Medium.SMS].rate_limit
        assert sms_limit is not None and (sms_limit.rate_per_s, sms_limit.burst) == (20, 20)
        webhook_limit = providers[Medium.WEBHOOK].rate_limit
        assert webhook_limit is not None and webhook_limit.burst == 1
        assert not any(p.needs_session for m, p in providers.items() if m != Medium.RECORD)
    finally:
        for provider in providers.values():
            await provider.aclose()


def test_a_rate_for_an_unknown_provider_is_refused():
    with pytest.raises(ValueError, match="sms"):
        build_providers(smtp=None, sms=None, webhooks={}, rates={"sms": 20})
