"""Notify's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from services.notify import api, handlers, store
from services.notify.delivery import DeliveryWorker
from services.notify.providers import RecordingProvider
from shared.service import ServiceRuntime
from shared.settings import Settings
from shared.vocabulary import Medium

NAME = "notify"


def build(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(NAME, settings, store.metadata)
    # Real providers (SMS, e-mail, webhook) come with the notify issue; until then, record.
    worker = DeliveryWorker(
        runtime.db,
        {Medium.RECORD: RecordingProvider()},
        runtime.outbox,
        after_commit=[runtime.relay.wake],
        poll_interval_s=settings.outbox_poll_interval_s,
    )
    runtime.add_worker(worker)
    for topic, topic_routes in handlers.routes(Medium.RECORD).items():
        consumer = runtime.consume(topic, topic_routes)
        consumer.after_commit.append(worker.wake)
    return runtime.app(
        api.router,
        title="Jiban notify",
        description="Who hears what, and the delivery log (通知).",
    )
