"""Dead letters for ops: list what a consumed topic dead-lettered, and replay it (after a fix)
onto the topic it came from. Replay remembers how far it got (its own consumer group), so
running it twice does not send anything twice."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.settings import Settings
from shared.topics import TopicNames, dlq_of


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


def _dead_letter(record: object) -> DeadLetter:
    return DeadLetter(
        record.partition,  # type: ignore[attr-defined]
        record.offset,  # type: ignore[attr-defined]
        record.key,  # type: ignore[attr-defined]
        record.value,  # type: ignore[attr-defined]
        {k: v.decode(errors="replace") for k, v in record.headers},  # type: ignore[attr-defined]
    )


async def _drain(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> list[object]:
    """Everything up to the end offsets as they were when we started."""
    ends = await consumer.end_offsets(partitions)
    records: list[object] = []
    while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
        batch = await consumer.getmany(timeout_ms=500)
        for messages in batch.values():
            records.extend(messages)
    return records


async def list_dead_letters(settings: Settings, topic: str) -> list[DeadLetter]:
    """Every dead letter of `topic` (a logical name, e.g. appeals.immediate), oldest first."""
    names = TopicNames(settings.topic_prefix)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        physical = names.physical(dlq_of(topic))
        partitions = [
            TopicPartition(physical, p) for p in consumer.partitions_for_topic(physical) or []
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        return [_dead_letter(r) for r in await _drain(consumer, partitions)]
    finally:
        await consumer.stop()


async def replay(settings: Settings, topic: str) -> int:
    """Puts the dead letters of `topic` not replayed before back onto `topic`; returns how many."""
    names = TopicNames(settings.topic_prefix)
    physical = names.physical(dlq_of(topic))
    consumer = AIOKafkaConsumer(
        physical,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=names.group("dlq-replay", topic),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # As the services' consumers: some brokers (Tansu) answer a join after a fraction of it.
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=max(settings.consumer_session_timeout_ms // 3, 100),
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=settings.kafka_enable_idempotence,
        acks="all",
    )
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)  # joins the group
        partitions = sorted(consumer.assignment())
        replayed = 0
        for record in await _drain(consumer, partitions):
            letter = _dead_letter(record)
            # Back where it came from, with its key (so its order per subject holds) and a note.
            await producer.send_and_wait(
                names.physical(letter.origin_topic or topic),
                letter.body,
                key=letter.key,
                headers=[
                    ("x-replayed-from", f"{physical}:{letter.partition}:{letter.offset}".encode())
                ],
            )
            tp = TopicPartition(physical, letter.partition)
            await consumer.commit({tp: letter.offset + 1})
            replayed += 1
        return replayed
    finally:
        await producer.stop()
        await consumer.stop()
