"""Notify's composition root: the providers the settings configure (the recording provider
when none is), the consumers that decide who hears what, and the delivery worker."""

from __future__ import annotations

from fastapi import FastAPI

from services.notify import api, handlers, store
from services.notify.delivery import DeliveryWorker
from services.notify.handlers import Notifier
from services.notify.providers import (
    SmsGatewayConfig,
    SmtpConfig,
    WebhookTarget,
    build_providers,
)
from services.notify.quiet_hours import QuietHours
from services.notify.retry import RetryPolicy
from shared.service import ServiceRuntime
from shared.settings import Settings

NAME = "notify"


def smtp_config(settings: Settings) -> SmtpConfig | None:
    if not settings.smtp_host:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        sender=settings.smtp_sender,
        use_tls=settings.smtp_use_tls,
        start_tls=settings.smtp_start_tls,
        timeout_s=settings.smtp_timeout_s,
        message_id_domain=settings.smtp_message_id_domain,
    )


def sms_config(settings: Settings) -> SmsGatewayConfig | None:
    if not settings.sms_gateway_url:
        return None
    template = settings.sms_gateway_body_template
    return SmsGatewayConfig(
        url=settings.sms_gateway_url,
        headers=dict(settings.sms_gateway_headers),
        timeout_s=settings.sms_gateway_timeout_s,
        **({"body_template": template} if template else {}),
    )


def webhook_targets(settings: Settings) -> dict[str, WebhookTarget]:
    return {
        channel: WebhookTarget(**target, timeout_s=settings.notify_webhook_timeout_s)
        for channel, target in settings.notify_webhooks.items()
    }


def build(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(NAME, settings, store.metadata)
    webhooks = webhook_targets(settings)
    providers = build_providers(
        smtp=smtp_config(settings),
        sms=sms_config(settings),
        webhooks=webhooks,
        rates=settings.notify_rate_limits,
    )
    quiet = QuietHours.parse(settings.notify_quiet_hours)
    worker = DeliveryWorker(
        runtime.units,
        providers,
        retry=RetryPolicy(
            max_attempts=settings.notify_max_attempts,
            base_s=settings.notify_retry_base_s,
            max_s=settings.notify_retry_max_s,
        ),
        quiet=quiet,
        batch_size=settings.notify_batch_size,
        poll_interval_s=settings.notify_poll_interval_s,
        max_backoff_s=settings.consumer_max_backoff_s,
    )
    runtime.add_worker(worker)
    notifier = Notifier(
        language=settings.notify_language,
        quiet=quiet,
        available=frozenset(providers),
        webhook_channels=frozenset(webhooks),
        wake=worker.wake,
    )
    for topic, topic_routes in handlers.routes(notifier).items():
        runtime.consume(topic, topic_routes)
    app = runtime.app(
        api.router,
        title="Jiban notify",
        description="Who hears what, in which words, delivered once (通知).",
    )
    app.state.delivery = worker
    return app
