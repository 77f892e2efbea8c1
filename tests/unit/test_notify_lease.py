"""The delivery lease follows from the providers' own bounds (pure): each provider says how long
one send may take at most, the worker's send window is the longest of those that leave the
process, and the lease outlasts it by the time to record the outcomes; the timeouts they come
from are bounded, in the settings and in the providers' own configuration."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.notify.deliveries.retry import RetryPolicy
from services.notify.deliveries.worker import RECORDING_MARGIN, DeliveryWorker, send_window_s
from services.notify.providers.assembly import build_providers
from services.notify.providers.base import GIVE_UP_AFTER_S, Provider
from services.notify.providers.recording import RecordingProvider
from services.notify.providers.sms_gateway import SmsGatewayConfig, SmsGatewayProvider
from services.notify.providers.smtp import SmtpConfig, SmtpProvider
from services.notify.providers.webhooks import WebhookProvider, WebhookTarget
from shared.settings import Settings
from shared.unit_of_work import UnitsOfWork
from shared.vocabulary import Medium


def smtp(timeout_s: float) -> SmtpProvider:
    return SmtpProvider(SmtpConfig(host="mail", sender="jiban@example.org", timeout_s=timeout_s))


def sms(timeout_s: float) -> SmsGatewayProvider:
    return SmsGatewayProvider(SmsGatewayConfig(url="https://sms.example.org", timeout_s=timeout_s))


def target(timeout_s: float) -> WebhookTarget:
    return WebhookTarget(
        url="https://hook.example.org", key_id="k", secret="s", timeout_s=timeout_s
    )


@pytest.mark.parametrize(
    ("provider", "max_send_s"),
    [
        (smtp(10), 10 + GIVE_UP_AFTER_S),
        (sms(5), 5 + GIVE_UP_AFTER_S),
        (WebhookProvider({"web": target(5), "hotline_12345": target(30)}), 30 + GIVE_UP_AFTER_S),
        (WebhookProvider({}), GIVE_UP_AFTER_S),
        (RecordingProvider(), GIVE_UP_AFTER_S),
    ],
)
async def test_each_provider_says_how_long_one_send_may_take(
    provider: Provider, max_send_s: float
) -> None:
    try:
        assert provider.max_send_s == pytest.approx(max_send_s)
    finally:
        await provider.aclose()


@pytest.mark.parametrize(
    ("media", "window_s"),
    [
        ({}, 0.0),
        ({Medium.RECORD: RecordingProvider()}, 0.0),  # recorded in the claim: no lease
        ({Medium.RECORD: RecordingProvider(), Medium.SMS: sms(5)}, 6.0),
        ({Medium.SMS: sms(5), Medium.EMAIL: smtp(100)}, 101.0),
    ],
)
async def test_the_send_window_is_the_slowest_send_that_leaves_the_process(
    media: dict[Medium, Provider], window_s: float
) -> None:
    try:
        assert send_window_s(media) == pytest.approx(window_s)
    finally:
        for provider in media.values():
            await provider.aclose()


async def test_the_lease_outlasts_the_slowest_send_by_the_time_to_record() -> None:
    providers = build_providers(
        smtp=SmtpConfig(host="mail", sender="jiban@example.org", timeout_s=90),
        sms=None,
        webhooks={"web": target(5)},
    )
    units: Any = UnitsOfWork.__new__(UnitsOfWork)  # never used: the worker is not started
    worker = DeliveryWorker(units, providers, retry=RetryPolicy())
    try:
        assert worker.send_window_s == pytest.approx(90 + GIVE_UP_AFTER_S)
        assert worker.lease == timedelta(seconds=90 + GIVE_UP_AFTER_S) + RECORDING_MARGIN
        assert worker.lease > timedelta(seconds=60)  # longer than the old fixed lease
    finally:
        for provider in providers.values():
            await provider.aclose()


@pytest.mark.parametrize(
    ("setting", "highest"),
    [("smtp_timeout_s", 120), ("sms_gateway_timeout_s", 60), ("notify_webhook_timeout_s", 60)],
)
def test_the_settings_bound_every_provider_timeout(setting: str, highest: float) -> None:
    assert getattr(Settings(**{setting: highest}), setting) == highest
    for refused in (highest + 1, 0):
        with pytest.raises(ValidationError, match=setting):
            Settings(**{setting: refused})


@pytest.mark.parametrize(
    ("make", "highest"),
    [
        (lambda t: SmtpConfig(host="mail", sender="jiban@example.org", timeout_s=t), 120),
        (lambda t: SmsGatewayConfig(url="https://sms.example.org", timeout_s=t), 60),
        (target, 60),
    ],
)
def test_the_providers_bound_their_own_timeouts(make: Any, highest: float) -> None:
    assert make(highest).timeout_s == highest
    with pytest.raises(ValidationError, match="timeout_s"):
        make(highest + 1)
