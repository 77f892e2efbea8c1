"""Jiban's Kafka clients over TLS, end to end. The embedded broker (Tansu 0.6) serves no TLS and,
with in-memory storage only, cannot have SASL users before it requires them; so a TLS-terminating
proxy stands in front of a Tansu of this test's own, and that Tansu advertises the proxy's
address (localhost, as in the certificate): every connection a client makes, the bootstrap and
the ones to the advertised broker, is TLS verified against the test's CA.

Proved: the topic admin (`ensure_topics`), the services' FastStream broker (publishing) and a raw
aiokafka consumer (`jiban dlq list`'s, and one reading back) connect with KAFKA_SECURITY_PROTOCOL
=SSL and KAFKA_SSL_CAFILE; a plaintext client and one trusting another CA are refused. SASL is
covered by the unit tests (tests/unit/test_kafka_security.py) only."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from certificates import self_signed

from jiban.dlq import list_dead_letters
from jiban.local_infra import LocalKafka, free_port, wait_for_port
from shared.broker import (
    OutgoingMessage,
    Publisher,
    create_broker,
    ensure_topics,
    kafka_client_options,
)
from shared.settings import Settings
from shared.topics import APPEALS_IMMEDIATE, TopicNames, dlq_of

pytestmark = pytest.mark.integration


class TlsProxy:
    """Takes TLS connections on `port` and passes what they carry, as it is, to a plaintext
    server on `upstream`; counts the connections it passed on."""

    def __init__(self, port: int, upstream: int, context: ssl.SSLContext) -> None:
        self.port, self.upstream, self.context = port, upstream, context
        self.connections = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> TlsProxy:
        self.server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, ssl=self.context
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        self.server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        self.connections += 1
        for task in (
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(Exception):
                sink.close()


def _tansu_behind(plain_port: int, tls_port: int) -> LocalKafka:
    """A Tansu listening on `plain_port` that tells clients to find it at localhost:`tls_port`
    (LocalKafka's start advertises where it listens)."""
    tansu = LocalKafka(plain_port)
    tansu.process = subprocess.Popen(
        [
            str(tansu.binary),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{plain_port}",
            "--advertised-listener-url",
            f"tcp://localhost:{tls_port}",
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(plain_port, 30, tansu.process, what="Tansu")
    return tansu


@pytest.fixture
async def tls_broker(tmp_path: Path) -> AsyncIterator[tuple[int, Path, TlsProxy]]:
    """(the TLS port, the CA file, the proxy) of a Tansu reachable only through the proxy."""
    cert, key = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    tls_port, plain_port = free_port(), free_port()
    tansu = await asyncio.to_thread(_tansu_behind, plain_port, tls_port)
    try:
        async with TlsProxy(tls_port, plain_port, server_context) as proxy:
            yield tls_port, cert, proxy
    finally:
        await asyncio.to_thread(tansu.stop)


async def _read_back(settings: Settings, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        **kafka_client_options(settings),
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        values: list[bytes] = []
        for _ in range(50):
            batch = await consumer.getmany(timeout_ms=200)
            values += [r.value for records in batch.values() for r in records]
            if values:
                return values
        return values
    finally:
        await consumer.stop()


async def test_every_kind_of_client_connects_over_verified_tls(
    tls_broker: tuple[int, Path, TlsProxy], tmp_path: Path
) -> None:
    port, ca, proxy = tls_broker
    settings = Settings.model_validate(
        {
            "KAFKA_BOOTSTRAP_SERVERS": f"localhost:{port}",
            "KAFKA_SECURITY_PROTOCOL": "SSL",
            "KAFKA_SSL_CAFILE": str(ca),
            "topic_prefix": f"tls{uuid.uuid4().hex[:6]}.",
        }
    )
    names = TopicNames(settings.topic_prefix)
    created = await ensure_topics(settings, [APPEALS_IMMEDIATE, dlq_of(APPEALS_IMMEDIATE)])
    assert sorted(created) == [
        names.physical(APPEALS_IMMEDIATE),
        names.physical("appeals.immediate.dlq"),
    ]

    broker = create_broker(settings, "tls-test")
    await broker.connect()
    try:
        await Publisher(broker, names).publish(
            OutgoingMessage(APPEALS_IMMEDIATE, b"key", b"over tls")
        )
    finally:
        await broker.stop()
    assert await _read_back(settings, names.physical(APPEALS_IMMEDIATE)) == [b"over tls"]
    assert await list_dead_letters(settings, APPEALS_IMMEDIATE) == []
    assert proxy.connections >= 4  # each client through the proxy: there is no other way in

    plaintext = settings.model_copy(
        update={"kafka_security_protocol": "PLAINTEXT", "kafka_ssl_cafile": None}
    )
    (tmp_path / "other").mkdir()
    other_ca, _ = self_signed(tmp_path / "other")
    untrusting = settings.model_copy(update={"kafka_ssl_cafile": str(other_ca)})
    for refused in (plaintext, untrusting):
        with pytest.raises(KafkaConnectionError):
            await ensure_topics(refused, [APPEALS_IMMEDIATE])
