"""Dead letters for ops: list what a consumed topic dead-lettered, and replay it (after a fix)
onto the topic it came from. Replay remembers how far it got (its own consumer group), so
running it twice does not send anything twice."""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from jiban.failures import EXIT_UNAVAILABLE, EXIT_USAGE, CommandError
from shared.broker import kafka_client_options
from shared.deadletter import FAILURE_HEADERS
from shared.settings import Settings
from shared.topics import DLQ_SUFFIX, TOPICS, TopicNames, dlq_of

REPLAYED_FROM = "x-replayed-from"

JOIN_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    body: bytes
    headers: dict[str, str]

    @property
    def origin_topic(self) -> str:
        return self.headers.get("x-origin-topic", "")

    @property
    def error(self) -> str:
        return self.headers.get("x-error", "")


def _dead_letter(record: ConsumerRecord) -> DeadLetter:
    return DeadLetter(
        record.partition,
        record.offset,
        record.key,
        record.value,
        {k: v.decode(errors="replace") for k, v in record.headers},
    )


def dead_lettered(topic: str) -> str:
    """`topic` if it is one that has dead letters (a consumed one), else why not."""
    consumed = {t.name for t in TOPICS if t.consumed}
    if topic in consumed:
        return topic
    if topic.endswith(DLQ_SUFFIX) and topic.removesuffix(DLQ_SUFFIX) in consumed:
        raise CommandError(
            f"name the consumed topic ({topic.removesuffix(DLQ_SUFFIX)}), not its dead-letter "
            "topic",
            EXIT_USAGE,
        )
    raise CommandError(
        f"{topic!r} is not a consumed topic (`jiban topics list` shows them)", EXIT_USAGE
    )


async def _require_topic(consumer: AIOKafkaConsumer, settings: Settings, physical: str) -> None:
    if physical not in await consumer.topics():
        raise CommandError(
            f"the Kafka broker at {settings.kafka_bootstrap_servers} has no topic {physical}: "
            "run `jiban topics create`",
            EXIT_UNAVAILABLE,
        )


async def _drain(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> list[ConsumerRecord]:
    """Everything up to the end offsets as they were when we started."""
    ends = await consumer.end_offsets(partitions)
    records: list[ConsumerRecord] = []
    while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
        batch = await consumer.getmany(timeout_ms=500)
        for messages in batch.values():
            records.extend(messages)
    return records


async def list_dead_letters(settings: Settings, topic: str) -> list[DeadLetter]:
    """Every dead letter of `topic` (a logical name, e.g. appeals.immediate), oldest first."""
    names = TopicNames(settings.topic_prefix)
    physical = names.physical(dlq_of(dead_lettered(topic)))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        **kafka_client_options(settings),
    )
    try:
        await consumer.start()
        await _require_topic(consumer, settings, physical)
        partitions = [
            TopicPartition(physical, p) for p in consumer.partitions_for_topic(physical) or []
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        return [_dead_letter(r) for r in await _drain(consumer, partitions)]
    finally:
        await consumer.stop()  # also after a failed start: nothing is left open


async def replay(settings: Settings, topic: str) -> int:
    """Puts the dead letters of `topic` not replayed before back onto `topic`; returns how many."""
    names = TopicNames(settings.topic_prefix)
    physical = names.physical(dlq_of(dead_lettered(topic)))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=names.topic_group("dlq-replay", topic),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # As the services' consumers: some brokers (Tansu) answer a join after a fraction of it.
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=max(settings.consumer_session_timeout_ms // 3, 100),
        **kafka_client_options(settings),
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=settings.kafka_enable_idempotence,
        acks="all",
        **kafka_client_options(settings),
    )
    try:
        await consumer.start()
        await _require_topic(consumer, settings, physical)
        await producer.start()
        consumer.subscribe([physical])
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        records: list[ConsumerRecord] = []
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise CommandError(
                    f"no partitions of {physical} assigned after {JOIN_TIMEOUT_S:.0f} s "
                    "(is another `jiban dlq replay` of it running?)",
                    EXIT_UNAVAILABLE,
                )
            # Joins the group; the poll that completes the join may already bring letters.
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(messages)
        records += await _drain(consumer, sorted(consumer.assignment()))
        replayed = 0
        for record in records:
            letter = _dead_letter(record)
            # Back where it came from, with its key (so its order per subject holds), its own
            # headers (its trace, an adapter's signature) and a note of where it was replayed from.
            await producer.send_and_wait(
                names.physical(letter.origin_topic or topic),
                letter.body,
                key=letter.key,
                headers=[
                    *(
                        (name, value.encode())
                        for name, value in letter.headers.items()
                        if name not in FAILURE_HEADERS and name != REPLAYED_FROM
                    ),
                    (REPLAYED_FROM, f"{physical}:{letter.partition}:{letter.offset}".encode()),
                ],
            )
            tp = TopicPartition(physical, letter.partition)
            await consumer.commit({tp: letter.offset + 1})
            replayed += 1
        return replayed
    finally:
        await producer.stop()
        await consumer.stop()
