"""The providers the settings configure, and always the recording one."""

from __future__ import annotations

from collections.abc import Mapping

from services.notify.providers.base import Provider, RateLimiter, default_burst
from services.notify.providers.recording import RecordingProvider
from services.notify.providers.sms_gateway import SmsGatewayConfig, SmsGatewayProvider
from services.notify.providers.smtp import SmtpConfig, SmtpProvider
from services.notify.providers.webhooks import WebhookProvider, WebhookTarget
from shared.settings import Settings
from shared.vocabulary import Medium

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


def from_settings(settings: Settings) -> dict[Medium, Provider]:
    return build_providers(
        smtp=smtp_config(settings),
        sms=sms_config(settings),
        webhooks=webhook_targets(settings),
        rates=settings.notify_rate_limits,
    )
