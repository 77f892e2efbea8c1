"""Handing committed offsets over from the groups a service read its topics in one by one
(`jiban.<service>.<topic>`) to its one group (`jiban.<service>`), before that group first joins.

Without it the new group would start from the earliest offset and read every retained message
again: harmless (the inbox knows them) but a flood. A partition is handed over only where the
service's group has no commit of its own and the earlier group has one, so a second start, or a
second replica starting beside the first, changes nothing; the earlier group's offset only skips
what the service already handled under its old name."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from shared.broker import kafka_client_options
from shared.settings import Settings
from shared.topics import TopicNames

log = logging.getLogger(__name__)


def _reader(settings: Settings, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="jiban-group-offsets",
        group_id=group,
        enable_auto_commit=False,
        **kafka_client_options(settings),
    )


async def _committed(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    found: dict[TopicPartition, int] = {}
    for tp in tps:
        offset = await consumer.committed(tp)
        if offset is not None:
            found[tp] = offset
    return found


async def hand_over_offsets(
    settings: Settings, group: str, earlier: Mapping[str, str], names: TopicNames
) -> dict[TopicPartition, int]:
    """For each topic (logical) in `earlier` and each of its partitions: when `group` has not
    committed there and `earlier[topic]` has, commits that offset for `group`. Returns what it
    handed over. A broker that refuses (another replica's member already holds the group)
    leaves the group's own commits, which win."""
    target = _reader(settings, group)
    await target.start()
    try:
        tps = [
            TopicPartition(names.physical(topic), p)
            for topic in earlier
            for p in sorted(target.partitions_for_topic(names.physical(topic)) or ())
        ]
        own = await _committed(target, tps)
        missing = [tp for tp in tps if tp not in own]
        if not missing:
            return {}
        handed: dict[TopicPartition, int] = {}
        by_group: dict[str, list[TopicPartition]] = {}
        for tp in missing:
            by_group.setdefault(earlier[names.logical(tp.topic)], []).append(tp)
        for old_group, old_tps in by_group.items():
            source = _reader(settings, old_group)
            await source.start()
            try:
                handed |= await _committed(source, old_tps)
            finally:
                await source.stop()
        if not handed:
            return {}
        target.assign(list(handed))
        try:
            await target.commit(handed)
        except KafkaError as exc:
            log.warning(
                "offsets not handed over (the group's own commits stand)",
                extra={"group": group, "error": f"{type(exc).__name__}: {exc}"},
            )
            return {}
        log.info(
            "offsets handed over from the groups that read one topic each",
            extra={"group": group, "partitions": len(handed)},
        )
        return handed
    finally:
        with contextlib.suppress(Exception):
            await target.stop()
