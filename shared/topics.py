"""The topic table: every topic Jiban uses, what travels on it, and who consumes it.

Names here are logical; `TopicNames` adds the deployment's prefix. Each consumed topic has a
dead-letter twin, `<topic>.dlq`. Later issues add their topics to TOPICS."""

from __future__ import annotations

from dataclasses import dataclass

from shared.vocabulary import Channel

APPEALS_IMMEDIATE = "appeals.immediate"
APPEALS_ASSIGNMENTS = "appeals.assignments"
APPEALS_LIFECYCLE = "appeals.lifecycle"
DIRECTORY_CHANGES = "directory.changes"
NOTIFICATIONS_SENT = "notifications.sent"
VISITS_LOGGED = "visits.logged"
APPEALS_FOLLOW_UPS = "appeals.follow-ups"
# Tracking's clock: deadline warnings, urging, public notices, acknowledgement reminders.
APPEALS_DEADLINES = "appeals.deadlines"
# The chief service officers' monthly rules: five-ones reminders, the four proposed to report.
CSO_MONTHLY = "cso.monthly"
# Adapters that prefer Kafka to HTTP publish their native payloads here, one topic per channel
# (keyed by their external id), and learn the outcome on the receipts topic.
INBOUND_PREFIX = "appeals.inbound."
INBOUND_RECEIPTS = "appeals.inbound.receipts"

DLQ_SUFFIX = ".dlq"


def inbound_topic(channel: str) -> str:
    return INBOUND_PREFIX + channel


@dataclass(frozen=True)
class Topic:
    """A topic, what it is for, who writes it and who reads it (the events on it are those
    whose `TOPIC` names it: shared/events/). `jiban docs` makes the README's topic table from
    these; a test holds `consumed_by` to the consumers the services really wire."""

    name: str
    what: str
    produced_by: str
    consumed_by: tuple[str, ...] = ()

    @property
    def consumed(self) -> bool:
        return bool(self.consumed_by)


TOPICS: tuple[Topic, ...] = (
    Topic(
        APPEALS_IMMEDIATE,
        "the unified immediate-handling stream: every appeal received, every repeat merged",
        "intake",
        ("dispatch", "tracking", "notify"),
    ),
    Topic(
        APPEALS_ASSIGNMENTS,
        "who owns each appeal: assignments, reassignments, rulings on returns, assistants",
        "dispatch",
        ("tracking", "notify"),
    ),
    Topic(
        APPEALS_LIFECYCLE,
        "the lifecycle: status changes, escalations, extensions, unreasonable marks, refused "
        "follow-ups, and tracking's requests to dispatch (returns, reassignment)",
        "tracking",
        ("intake", "dispatch", "notify"),
    ),
    Topic(
        APPEALS_DEADLINES,
        "tracking's clock: reminders, warnings, urging (催办), public notices (通报)",
        "tracking",
        ("notify",),
    ),
    Topic(
        CSO_MONTHLY,
        "the CSOs' monthly rules (keyed by officer id / month)",
        "tracking",
        ("notify",),
    ),
    Topic(
        DIRECTORY_CHANGES,
        "the directory: officers, enterprises, departments, duty posts (keyed by their id)",
        "dispatch",
        ("tracking", "notify"),
    ),
    # Nobody consumes it yet (the bench reads it without a group): no dead-letter twin.
    Topic(NOTIFICATIONS_SENT, "every delivery, sent or given up (keyed by appeal id)", "notify"),
    Topic(
        VISITS_LOGGED,
        "CSO visits that found no problem (keyed by enterprise)",
        "intake",
        ("tracking",),
    ),
    Topic(APPEALS_FOLLOW_UPS, "the 12345 call-back's results", "intake", ("tracking",)),
    *(
        Topic(
            inbound_topic(channel),
            f"{channel}'s native submissions",
            f"the {channel} adapter",
            ("intake",),
        )
        for channel in Channel
    ),
    Topic(INBOUND_RECEIPTS, "intake's answer to each inbound submission", "intake"),
)


def dlq_of(topic: str) -> str:
    return topic + DLQ_SUFFIX


def all_topics() -> list[str]:
    names: list[str] = []
    for topic in TOPICS:
        names.append(topic.name)
        if topic.consumed:
            names.append(dlq_of(topic.name))
    return names


@dataclass(frozen=True)
class TopicNames:
    """Maps logical names to the names on the cluster (with the deployment's prefix)."""

    prefix: str = ""

    def physical(self, logical: str) -> str:
        return self.prefix + logical

    def logical(self, physical: str) -> str:
        return physical.removeprefix(self.prefix)

    def group(self, service: str) -> str:
        """A service's one consumer group: every topic it reads, in one fetch and one
        transaction per batch (each group member polls the broker on its own)."""
        return f"{self.prefix}jiban.{service}"

    def topic_group(self, service: str, logical_topic: str) -> str:
        """The group a service read one topic in before it read all in one: its committed
        offsets are handed over once (shared/group_offsets.py)."""
        return f"{self.prefix}jiban.{service}.{logical_topic}"
