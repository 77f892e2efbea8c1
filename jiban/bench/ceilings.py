"""What the pieces underneath can do on their own, on the same servers in the same run, so our
throughput reads as a share of something:

- broker: raw aiokafka, N messages produced and consumed once (no framework, no database);
- framework: FastStream subscribers passing N messages along the pipeline's hops with our consumer
  settings (one group per service, manual ack, earliest, a poll's batch at a time), no database;
- database: small write transactions per second (pgbench's shape: an UPDATE and an INSERT, then
  COMMIT) over a few asyncpg connections.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage

from shared.broker import create_broker, ensure_topics, kafka_client_options
from shared.settings import Settings
from shared.topics import TopicNames

# About the size of an AppealReceived envelope.
PAYLOAD_BYTES = 900
JOIN_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Ceiling:
    what: str
    count: int
    seconds: float
    unit: str

    @property
    def per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "per_s": round(self.per_s, 1)}


def _payload() -> bytes:
    return os.urandom(PAYLOAD_BYTES // 2).hex().encode()


class _Counter:
    """A group-less reader of some topics that counts what arrives (the finish line)."""

    def __init__(self, settings: Settings, topics: list[str]) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            enable_auto_commit=False,
            **kafka_client_options(settings),
        )
        self.topics = topics
        self.counts = dict.fromkeys(topics, 0)
        self.last_at = 0.0

    async def start(self) -> None:
        await self.consumer.start()
        partitions = [
            TopicPartition(t, p)
            for t in self.topics
            for p in sorted(self.consumer.partitions_for_topic(t) or [])
        ]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)

    async def until(self, each: int, timeout_s: float) -> bool:
        """Reads until every topic holds `each` messages (True), or time is up (False)."""
        deadline = time.monotonic() + timeout_s
        while min(self.counts.values()) < each:
            if time.monotonic() > deadline:
                return False
            batch = await self.consumer.getmany(timeout_ms=100)
            for tp, messages in batch.items():
                self.counts[tp.topic] += len(messages)
                if messages:
                    self.last_at = time.monotonic()
        return True

    async def stop(self) -> None:
        await self.consumer.stop()


async def broker_ceiling(settings: Settings, n: int, *, timeout_s: float = 120) -> Ceiling:
    names = TopicNames(settings.topic_prefix + f"ceiling{uuid.uuid4().hex[:6]}.")
    topic = names.physical("raw")
    await ensure_topics(settings.model_copy(update={"topic_prefix": names.prefix}), ["raw"])
    counter = _Counter(settings, [topic])
    await counter.start()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=False,
        **kafka_client_options(settings),
    )
    await producer.start()
    try:
        payload = _payload()
        begin = time.monotonic()
        # Unconfirmed sends batch on the wire, as our relay's do; all are confirmed below.
        futures = [await producer.send(topic, payload, key=uuid.uuid4().bytes) for _ in range(n)]
        await asyncio.gather(*futures)
        await counter.until(n, timeout_s)
        return Ceiling(
            "aiokafka produce → consume", counter.counts[topic], counter.last_at - begin, "msg/s"
        )
    finally:
        await producer.stop()
        await counter.stop()


async def _raw_body(message: Any) -> list[bytes]:
    body: list[bytes] = message.body
    return body


async def framework_ceiling(settings: Settings, n: int, *, timeout_s: float = 180) -> Ceiling:
    """The pipeline's shape without a database, one group per service as the services read:
    dispatch reads immediate and passes each message on to assignments; tracking and notify
    each read immediate and assignments in one group, and pass what comes on assignments on (to
    lifecycle, to notified). Each hop publishes its batch and waits for the confirms, then
    acks."""
    names = TopicNames(settings.topic_prefix + f"ceiling{uuid.uuid4().hex[:6]}.")
    logical = ["immediate", "assignments", "lifecycle", "notified"]
    await ensure_topics(settings.model_copy(update={"topic_prefix": names.prefix}), logical)
    immediate, assignments, lifecycle, notified = (names.physical(t) for t in logical)
    # One broker per service, started together: a subscriber's group join takes seconds on
    # Tansu and one broker starts its subscribers one after the other.
    brokers = []

    def service(name: str, reads: list[str], passes: dict[str, str]) -> None:
        broker = create_broker(settings, f"bench-ceiling-{name}")
        brokers.append(broker)

        async def handle(bodies: list[bytes], message: KafkaMessage) -> None:
            records = message.raw_message
            records = records if isinstance(records, tuple) else (records,)
            # What our relay does with a batch: send them all, then wait for every confirm.
            futures = [
                await broker.publish(body, passes[r.topic], key=r.key, no_confirm=True)
                for body, r in zip(bodies, records, strict=True)
                if r.topic in passes
            ]
            await asyncio.gather(*futures)
            await message.ack()

        # Named before registering: FastStream names the subscriber after its function.
        handle.__name__ = f"{name}_ceiling"
        broker.subscriber(
            *reads,
            group_id=names.group(name),
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw_body,
            batch=True,  # as shared/consumer.py subscribes: one poll's worth at a time
            max_records=settings.consumer_batch_size,
            fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        )(handle)

    service("dispatch", [immediate], {immediate: assignments})
    service("tracking", [immediate, assignments], {assignments: lifecycle})
    service("notify", [immediate, assignments], {assignments: notified})

    counter = _Counter(settings, [lifecycle, notified])
    await counter.start()
    await asyncio.gather(*(b.start() for b in brokers))
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=False,
        **kafka_client_options(settings),
    )
    await producer.start()
    try:
        # One message through first: the groups join (seconds on Tansu) outside the clock.
        await producer.send_and_wait(immediate, b"warm-up", key=b"warm-up")
        if not await counter.until(1, JOIN_TIMEOUT_S):
            raise TimeoutError("the framework chain did not pass a message within 90 s")
        payload = _payload()
        begin = time.monotonic()
        futures = [
            await producer.send(immediate, payload, key=uuid.uuid4().bytes) for _ in range(n)
        ]
        await asyncio.gather(*futures)
        await counter.until(n + 1, timeout_s)
        through = min(counter.counts.values()) - 1
        return Ceiling(
            "FastStream chain, 4 hops, no DB", through, counter.last_at - begin, "appeals/s"
        )
    finally:
        await producer.stop()
        await asyncio.gather(*(b.stop() for b in brokers))
        await counter.stop()


async def database_ceiling(
    database_url: str, *, seconds: float = 5.0, connections: int = 4, accounts: int = 1000
) -> Ceiling:
    """pgbench's write transaction, shortened: UPDATE one row, INSERT a history row, COMMIT."""
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    schema = f"bench_ceiling_{uuid.uuid4().hex[:6]}"
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    try:
        async with pool.acquire() as conn:
            await conn.execute(
                f"CREATE SCHEMA {schema};"
                f"CREATE TABLE {schema}.accounts (id int PRIMARY KEY, balance bigint NOT NULL);"
                f"CREATE TABLE {schema}.history (id bigserial PRIMARY KEY, account int NOT NULL,"
                f" delta int NOT NULL, at timestamptz NOT NULL DEFAULT now());"
                f"INSERT INTO {schema}.accounts SELECT g, 0 FROM generate_series(1, {accounts}) g"
            )
        update = f"UPDATE {schema}.accounts SET balance = balance + $1 WHERE id = $2"
        insert = f"INSERT INTO {schema}.history (account, delta) VALUES ($2, $1)"
        done = 0

        async def client() -> None:
            nonlocal done
            async with pool.acquire() as conn:
                while time.monotonic() < deadline:
                    delta, account = random.randint(-5000, 5000), random.randint(1, accounts)
                    async with conn.transaction():
                        await conn.execute(update, delta, account)
                        await conn.execute(insert, delta, account)
                    done += 1

        begin = time.monotonic()
        deadline = begin + seconds
        await asyncio.gather(*(client() for _ in range(connections)))
        elapsed = time.monotonic() - begin
        return Ceiling(
            f"asyncpg UPDATE+INSERT tx, {connections} connections", done, elapsed, "tx/s"
        )
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()
