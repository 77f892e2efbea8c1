"""A service reads all its topics in one group; the offsets its one-topic groups committed
before are handed over at its first start (shared/group_offsets.py), against the broker the
tests run: what the old groups handled is not read again, and the hand-over happens once."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from factories import envelope_of, received, small_directory
from harness import count, running

from jiban.setup import load_demo_directory
from shared.group_offsets import hand_over_offsets
from shared.settings import Settings
from shared.topics import APPEALS_IMMEDIATE, APPEALS_LIFECYCLE, TopicNames

pytestmark = pytest.mark.integration


async def _send_to_partition_0(settings: Settings, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for _ in range(n):
            env = envelope_of(received())
            topic = settings.topic_prefix + APPEALS_IMMEDIATE
            await producer.send_and_wait(topic, env.to_bytes(), key=env.key, partition=0)
    finally:
        await producer.stop()


async def _commit(settings: Settings, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def _committed(settings: Settings, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return await consumer.committed(tp)
    finally:
        await consumer.stop()


async def _assignments(settings: Settings) -> int:
    from services.dispatch.tables import assignments

    return await count(settings, assignments)


async def test_the_old_groups_offsets_are_handed_over_once(settings: Settings) -> None:
    names = TopicNames(settings.topic_prefix)
    immediate = TopicPartition(names.physical(APPEALS_IMMEDIATE), 0)
    lifecycle = TopicPartition(names.physical(APPEALS_LIFECYCLE), 3)
    earlier = {
        APPEALS_IMMEDIATE: names.topic_group("dispatch", APPEALS_IMMEDIATE),
        APPEALS_LIFECYCLE: names.topic_group("dispatch", APPEALS_LIFECYCLE),
    }
    await _send_to_partition_0(settings, 2)
    await _commit(settings, earlier[APPEALS_IMMEDIATE], {immediate: 2})
    await _commit(settings, earlier[APPEALS_LIFECYCLE], {lifecycle: 0})

    group = names.group("dispatch")
    handed = await hand_over_offsets(settings, group, earlier, names)

    assert handed == {immediate: 2, lifecycle: 0}
    assert await _committed(settings, group, immediate) == 2
    # Partitions the old groups never committed stay uncommitted (they start at the earliest).
    assert await _committed(settings, group, TopicPartition(immediate.topic, 1)) is None
    # The group's own commits win from then on: a second start hands nothing over.
    await _commit(settings, earlier[APPEALS_IMMEDIATE], {immediate: 1})
    assert await hand_over_offsets(settings, group, earlier, names) == {}
    assert await _committed(settings, group, immediate) == 2


async def test_a_service_does_not_read_again_what_its_old_group_handled(
    settings: Settings, wait_until
) -> None:
    """Two appeals the old one-topic group had handled, then one more: the service, started
    with one group, routes only the new one."""
    from services.dispatch.app import build

    names = TopicNames(settings.topic_prefix)
    await load_demo_directory(settings, small_directory())
    await _send_to_partition_0(settings, 2)
    immediate = TopicPartition(names.physical(APPEALS_IMMEDIATE), 0)
    await _commit(settings, names.topic_group("dispatch", APPEALS_IMMEDIATE), {immediate: 2})

    async with running(build(settings)):
        await _send_to_partition_0(settings, 1)

        async def routed() -> bool:
            return await _assignments(settings) >= 1

        await wait_until(routed)
        # Same partition, in order: the third was handled, so the first two were passed over.
        assert await _assignments(settings) == 1

        async def acked() -> bool:
            return await _committed(settings, names.group("dispatch"), immediate) == 3

        await wait_until(acked)
