"""The Kafka side of every service: one FastStream broker, topic names, publishing, topic setup."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker

from shared.envelope import Envelope
from shared.settings import Settings
from shared.topics import TopicNames, all_topics

log = logging.getLogger(__name__)

# Kafka error code for "Topic with this name already exists".
_TOPIC_ALREADY_EXISTS = 36


def create_broker(settings: Settings, service: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"jiban-{service}",
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        # Topics are created explicitly with their partition count; never by accident.
        allow_auto_create_topics=False,
        graceful_timeout=15.0,
        logger=logging.getLogger(f"jiban.{service}.broker"),
        # FastStream logs every message received/processed at this level: keep it out of INFO.
        log_level=logging.DEBUG,
    )


@dataclass(frozen=True)
class OutgoingMessage:
    topic: str  # logical name
    key: bytes
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)


def headers_for(envelope: Envelope) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-event-type": envelope.type,
        "x-event-id": str(envelope.event_id),
        "correlation_id": envelope.correlation_id,
    }


class Publisher:
    """Publishes to logical topics; waits for the broker to confirm every message."""

    def __init__(self, broker: KafkaBroker, names: TopicNames) -> None:
        self.broker = broker
        self.names = names

    async def publish_many(self, messages: Sequence[OutgoingMessage]) -> None:
        # Unconfirmed sends batch on the wire; gathering their futures still confirms each one.
        futures = [
            await self.broker.publish(
                m.value,
                self.names.physical(m.topic),
                key=m.key,
                headers=m.headers,
                no_confirm=True,
            )
            for m in messages
        ]
        await asyncio.gather(*futures)

    async def publish(self, message: OutgoingMessage) -> None:
        await self.publish_many([message])


async def ensure_topics(settings: Settings, topics: Sequence[str] | None = None) -> list[str]:
    """Creates the missing topics (with their partition count); returns the ones it created."""
    names = TopicNames(settings.topic_prefix)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, client_id="jiban-admin"
    )
    await admin.start()
    try:
        wanted = [names.physical(t) for t in (topics if topics is not None else all_topics())]
        response = await admin.create_topics(
            [
                NewTopic(t, settings.topic_partitions, settings.topic_replication_factor)
                for t in wanted
            ]
        )
        created = []
        for topic, code, message in (e[:3] for e in response.topic_errors):
            if code == 0:
                created.append(topic)
            elif code != _TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"could not create topic {topic}: {code} {message}")
        return created
    finally:
        await admin.close()
