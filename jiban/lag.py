"""`jiban lag`: how far behind every consumer group of the deployment is, per topic.

Each service reads all its topics in one group, `jiban.<service>` (TopicNames.group): the topics
the topic table says it reads (shared/topics.py `consumed_by`), whether or not it has joined yet
(a group that has not committed reads from the earliest offset, so all is lag). The console's
group, whose topics are no reader of record there, is read when the broker knows it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from jiban.docs import consumed_topics
from shared.lag import LagReader, PartitionLag
from shared.migrations import ALL_SERVICES
from shared.settings import Settings
from shared.topics import TOPICS, TopicNames


@dataclass(frozen=True)
class TopicLag:
    group: str
    topic: str  # logical
    lag: int  # summed over the topic's partitions


def expected_groups(names: TopicNames) -> dict[str, tuple[str, ...]]:
    """The services' groups the topic table implies, with the topics each reads."""
    groups: dict[str, list[str]] = defaultdict(list)
    for topic in TOPICS:
        for service in topic.consumed_by:
            groups[names.group(service)].append(topic.name)
    return {group: tuple(topics) for group, topics in groups.items()}


def topics_of(group: str, prefix: str, readers: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The topics a services' group reads, from its name (`readers`: service → its topics); ()
    for any other group (dlq replay's, another deployment's, a tool's, a one-topic group of
    before)."""
    service = group.removeprefix(prefix + "jiban.")
    if not group.startswith(prefix + "jiban.") or service not in ALL_SERVICES:
        return ()
    return readers.get(service, ())


def by_topic(lags: list[PartitionLag]) -> list[TopicLag]:
    summed: dict[tuple[str, str], list[PartitionLag]] = defaultdict(list)
    for lag in lags:
        summed[(lag.group, lag.topic)].append(lag)
    return [
        TopicLag(group, topic, sum(p.lag for p in parts))
        for (group, topic), parts in sorted(summed.items())
    ]


async def deployment_lag(settings: Settings) -> list[TopicLag]:
    async with LagReader(settings, client_id="jiban-cli-lag") as reader:
        readers = {service: tuple(consumed_topics(service)) for service in ALL_SERVICES}
        groups = expected_groups(reader.names) | {
            group: topics
            for group in await reader.groups()
            if (topics := topics_of(group, settings.topic_prefix, readers))
        }
        return by_topic(await reader.read(groups))


def format_lag(lags: list[TopicLag]) -> str:
    if not lags:
        return "no consumer groups: the broker has none of the topics (`jiban topics create`)"
    width = max(len(lag.group) for lag in lags)
    lines = [f"{'GROUP':<{width}}  {'TOPIC':<28} {'LAG':>9}"]
    for lag in lags:
        lines.append(f"{lag.group:<{width}}  {lag.topic:<28} {lag.lag:>9}")
    total = sum(lag.lag for lag in lags)
    groups = len({lag.group for lag in lags})
    lines.append(f"{groups} groups, {total} messages not consumed")
    return "\n".join(lines)
