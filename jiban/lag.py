"""`jiban lag`: how far behind every consumer group of the deployment is, per topic.

The groups are those the topic table says the services have (shared/topics.py `consumed_by`,
named by TopicNames.group; intake reads every channel's inbound topic in one group), whether or
not they have joined yet (a group that has not committed reads from the earliest offset, so all
is lag), and any other services' group the broker knows (the console's). A group's topics are
the consumed topics its name covers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from shared.lag import LagReader, PartitionLag
from shared.migrations import ALL_SERVICES
from shared.settings import Settings
from shared.topics import INBOUND_PREFIX, TOPICS, TopicNames


@dataclass(frozen=True)
class TopicLag:
    group: str
    topic: str  # logical
    lag: int  # summed over the topic's partitions


def _label(topic: str) -> str:
    """The name of the group a topic is read in, after `jiban.<service>.`: the topic's own, but
    one for all of the channels' inbound topics (services/intake/app.py)."""
    return INBOUND_PREFIX.removesuffix(".") if topic.startswith(INBOUND_PREFIX) else topic


def _covered(label: str) -> tuple[str, ...]:
    return tuple(
        t.name for t in TOPICS if t.consumed and (t.name == label or t.name.startswith(label + "."))
    )


def expected_groups(names: TopicNames) -> dict[str, tuple[str, ...]]:
    """The services' groups the topic table implies, with the topics each reads."""
    groups: dict[str, list[str]] = defaultdict(list)
    for topic in TOPICS:
        for service in topic.consumed_by:
            groups[names.group(service, _label(topic.name))].append(topic.name)
    return {group: tuple(topics) for group, topics in groups.items()}


def topics_of(group: str, prefix: str) -> tuple[str, ...]:
    """The consumed topics a services' group reads, from its name; () for any other group (dlq
    replay's, another deployment's, a tool's)."""
    name = group.removeprefix(prefix + "jiban.")
    if not group.startswith(prefix + "jiban.") or "." not in name:
        return ()
    service, label = name.split(".", 1)
    return _covered(label) if service in ALL_SERVICES else ()


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
        groups = expected_groups(reader.names) | {
            group: topics
            for group in await reader.groups()
            if (topics := topics_of(group, settings.topic_prefix))
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
