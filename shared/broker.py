"""The Kafka side of every service: one FastStream broker, topic names, publishing, topic setup."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared import tracing
from shared.envelope import Envelope
from shared.settings import Settings
from shared.topics import TopicNames, all_topics

log = logging.getLogger(__name__)

# Kafka error code for "Topic with this name already exists".
_TOPIC_ALREADY_EXISTS = 36


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    key_password = settings.kafka_ssl_key_password
    # Verifies the broker's certificate and host name; no CA file: the system's CAs.
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_cafile,
        certfile=settings.kafka_ssl_certfile,
        keyfile=settings.kafka_ssl_keyfile,
        password=key_password.get_secret_value() if key_password else None,
    )
    return context


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """The connection's security for a raw aiokafka client (producer, consumer, admin):
    `AIOKafkaConsumer(bootstrap_servers=..., **kafka_client_options(settings))`."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = _ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL_"):
        # Settings refuses SASL without all three at start-up.
        assert settings.kafka_sasl_mechanism and settings.kafka_sasl_password
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def broker_security(settings: Settings) -> BaseSecurity | None:
    """The same security as FastStream's `security=` (it maps it back to aiokafka's options)."""
    protocol = settings.kafka_security_protocol
    context = _ssl_context(settings)
    if not protocol.startswith("SASL_"):
        return BaseSecurity(ssl_context=context) if context is not None else None
    assert settings.kafka_sasl_username and settings.kafka_sasl_password
    kinds = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    kind = kinds[settings.kafka_sasl_mechanism or "PLAIN"]
    return kind(
        settings.kafka_sasl_username,
        settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=context is not None,
    )


def create_broker(settings: Settings, service: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=broker_security(settings),
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
    """The message's headers; with tracing on, the current span's `traceparent` (and
    `tracestate`) too: kept with the outbox row, they are the parent of the relay's publish."""
    headers = {
        "content-type": "application/json",
        "x-event-type": envelope.type,
        "x-event-id": str(envelope.event_id),
        "correlation_id": envelope.correlation_id,
    }
    tracing.inject(headers)
    return headers


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


def admin_client(settings: Settings, client_id: str) -> AIOKafkaAdminClient:
    """An admin client (not started) for the configured cluster, with its TLS and SASL."""
    return AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=client_id,
        **kafka_client_options(settings),
    )


async def ensure_topics(settings: Settings, topics: Sequence[str] | None = None) -> list[str]:
    """Creates the missing topics (with their partition count); returns the ones it created."""
    names = TopicNames(settings.topic_prefix)
    admin = admin_client(settings, "jiban-admin")
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
