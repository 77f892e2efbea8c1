"""`make bench`: the whole system on this machine under a steady load of appeals; prints figures
(HTTP accept latency, accepted → assigned visible in tracking), asserts nothing.

Tracking publishes AppealStatusChanged when an appeal becomes `assigned`, in the transaction that
makes it visible; its envelope's `occurred_at` is that moment, so no polling is needed."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from datetime import datetime

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from jiban.dev import (
    create_database,
    infrastructure,
    say,
    start_services,
    stop_services,
    wait_ready,
)
from jiban.setup import load_demo_directory
from shared.broker import ensure_topics
from shared.migrations import SERVICES, upgrade
from shared.settings import Settings
from shared.topics import APPEALS_LIFECYCLE


def percentiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    q = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return f"p50 {q[49]:.1f} ms  p95 {q[94]:.1f} ms  p99 {q[98]:.1f} ms  (n={len(values)})"


async def watch_assigned(settings: Settings, seen: dict[str, float], stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        topic = settings.topic_prefix + APPEALS_LIFECYCLE
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                for m in messages:
                    envelope = json.loads(m.value)
                    if envelope["payload"]["to_status"] == "assigned":
                        at = datetime.fromisoformat(envelope["occurred_at"]).timestamp()
                        seen[envelope["subject_id"]] = at
    finally:
        await consumer.stop()


async def load(settings: Settings, rate: float, seconds: float) -> None:
    intake = f"http://127.0.0.1:{settings.port_for('intake')}/v1/appeals"
    accepted_at: dict[str, float] = {}
    accept_ms: list[float] = []
    seen: dict[str, float] = {}
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_assigned(settings, seen, stop))
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def post(n: int) -> None:
            body = {
                "channel": "web",
                "external_id": str(uuid.uuid4()),
                "appellant": {"name": "测试", "phone": f"1390000{n % 10000:04d}"},
                "content": "基准测试诉求：路灯不亮。",
                "location": {"community": "大旺社区"},
            }
            started = time.time()
            response = await http.post(intake, json=body)
            if response.status_code == 202:
                accept_ms.append((time.time() - started) * 1000)
                accepted_at[response.json()["appeal_id"]] = time.time()

        tasks = []
        begin = time.monotonic()
        n = 0
        while time.monotonic() - begin < seconds:
            tasks.append(asyncio.create_task(post(n)))
            n += 1
            await asyncio.sleep(max(0.0, begin + n / rate - time.monotonic()))
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - begin
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not set(accepted_at) <= set(seen):
        await asyncio.sleep(0.2)
    stop.set()
    await watcher
    latencies = [(seen[a] - t) * 1000 for a, t in accepted_at.items() if a in seen]
    print()
    print(
        f"offered        {n} appeals over {elapsed:.1f} s "
        f"({n / elapsed:.0f} appeals/s; target {rate:.0f})"
    )
    print(f"accepted (202) {len(accepted_at)}")
    print(f"HTTP accept    {percentiles(accept_ms)}")
    print(f"accepted → assigned visible in tracking  {percentiles(latencies)}")
    print(f"not assigned within 60 s: {len(set(accepted_at) - set(seen))}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rate", type=float, default=20.0, help="appeals per second")
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args()
    with infrastructure(Settings()) as (database_url, kafka):
        if not os.environ.get("DATABASE_URL"):
            database_url = asyncio.run(create_database(database_url, "jiban_bench"))
        settings = Settings(
            database_url=database_url,
            kafka_bootstrap_servers=kafka,
            topic_prefix=f"bench{uuid.uuid4().hex[:6]}.",
        )
        upgrade(settings)
        asyncio.run(ensure_topics(settings))
        asyncio.run(load_demo_directory(settings))
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "JIBAN_TOPIC_PREFIX": settings.topic_prefix,
            "JIBAN_LOG_LEVEL": "WARNING",
        }
        children = start_services(env)
        try:
            wait_ready({n: f"http://127.0.0.1:{settings.port_for(n)}" for n in SERVICES}, children)
            say(f"load: {args.rate:.0f} appeals/s for {args.seconds:.0f} s")
            asyncio.run(load(settings, args.rate, args.seconds))
        finally:
            stop_services(children)


if __name__ == "__main__":
    main()
