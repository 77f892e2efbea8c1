"""Notify's composition root: the providers the settings configure (the recording provider
when none is), the consumers that keep notify's copies and decide who hears what, the delivery
worker, and the delivery log's API."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import tables
from services.notify.decisions import handlers as decisions
from services.notify.decisions.service import Notifier
from services.notify.deliveries import api, store
from services.notify.deliveries.quiet_hours import QuietHours
from services.notify.deliveries.retry import RetryPolicy
from services.notify.deliveries.worker import DeliveryWorker
from services.notify.directory import handlers as directory
from services.notify.providers import assembly
from shared.metrics import NOTIFICATIONS
from shared.service import ServiceRuntime
from shared.settings import Settings

NAME = "notify"


async def notification_gauges(session: AsyncSession) -> None:
    for status, count in (await store.count_by_status(session)).items():
        NOTIFICATIONS.labels(NAME, status.value).set(count)


def build(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(NAME, settings, tables.metadata)
    providers = assembly.from_settings(settings)
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
    runtime.add_gauge_refresher(notification_gauges)
    notifier = Notifier(
        language=settings.notify_language,
        quiet=quiet,
        available=frozenset(providers),
        webhook_channels=frozenset(settings.notify_webhooks),
        wake=worker.wake,
    )
    for topic, topic_routes in decisions.routes(notifier).items():
        runtime.consume(topic, topic_routes, prepare=decisions.prepare)
    for topic, topic_routes in directory.routes().items():
        runtime.consume(topic, topic_routes)
    app = runtime.app(
        api.router,
        title="Jiban notify",
        description="Who hears what, in which words, delivered once (通知).",
    )
    app.state.delivery = worker
    return app
