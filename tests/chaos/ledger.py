"""Exactly-once accounting, read straight from the services' tables and the broker.

`drained()` says when no work is left anywhere (outboxes, consumer lag, pending notifications),
so counting then is final: nothing still in flight could add a row later. `problems()` then
compares each service's rows with the appeals intake accepted: exactly one assignment, one
tracking record with one history entry per event, and each notification sent exactly once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Set
from dataclasses import dataclass, field
from types import TracebackType

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.migrations import SERVICES
from shared.settings import Settings
from shared.topics import TopicNames, all_topics, dlq_of


@dataclass(frozen=True)
class Group:
    service: str
    name: str  # the consumer group, as on the broker
    topics: tuple[str, ...]  # logical


def consumer_groups(settings: Settings) -> list[Group]:
    """Every consumer group of every service and the topics it reads, from the services' own
    wiring (app.py), so the accounting follows the code. Building an app connects to nothing;
    development mode spares it production secrets it has no use for here."""
    wiring = settings.model_copy(update={"dev_mode": True})
    groups = []
    for service in SERVICES:
        module = __import__(f"services.{service}.app", fromlist=["build"])
        for consumer in module.build(wiring).state.runtime.consumers:
            topics = consumer.topics
            groups.append(Group(service, consumer.group, topics))
    return groups


@dataclass
class Facts:
    """Each service's rows about appeals, keyed by appeal id (str)."""

    intake: set[str] = field(default_factory=set)
    assignments: dict[str, str] = field(default_factory=dict)  # appeal -> officer
    # appeal -> (the routing rule, the CSO's party-building assistant of its enterprise)
    routing: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    tracking: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    history: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    # appeal -> the types of the events tracking keeps until it hears the appeal's receipt
    waiting: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # appeal -> [(recipient, kind, status, recorded by the provider)]
    notifications: dict[str, list[tuple[str, str, str, bool]]] = field(
        default_factory=lambda: defaultdict(list)
    )


class Ledger:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.names = TopicNames(settings.topic_prefix)
        self.groups = consumer_groups(settings)
        self._db: asyncpg.Connection | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._kafka: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> Ledger:
        self._db = await asyncpg.connect(
            self.settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
        )
        servers = self.settings.kafka_bootstrap_servers
        self._admin = AIOKafkaAdminClient(bootstrap_servers=servers, client_id="chaos-ledger")
        await self._admin.start()
        self._kafka = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
        await self._kafka.start()
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if self._kafka is not None:
            await self._kafka.stop()
        if self._admin is not None:
            await self._admin.close()
        if self._db is not None:
            await self._db.close()

    @property
    def db(self) -> asyncpg.Connection:
        assert self._db is not None, "use `async with Ledger(...)`"
        return self._db

    # --- the broker --------------------------------------------------------------------------

    async def end_offsets(self, logical: str) -> dict[TopicPartition, int]:
        assert self._kafka is not None
        topic = self.names.physical(logical)
        # Created by ensure_topics with this many partitions (no metadata round trip needed).
        tps = [TopicPartition(topic, p) for p in range(self.settings.topic_partitions)]
        return dict(await self._kafka.end_offsets(tps))

    async def lag(self, group: Group) -> int:
        """Messages on the group's topics that it has not committed past."""
        assert self._admin is not None
        ends: dict[TopicPartition, int] = {}
        for topic in group.topics:
            ends.update(await self.end_offsets(topic))
        committed = await self._admin.list_consumer_group_offsets(group.name, partitions=list(ends))
        total = 0
        for tp, end in ends.items():
            position = committed.get(tp)
            done = position.offset if position is not None and position.offset >= 0 else 0
            total += max(end - done, 0)
        return total

    async def committed(self) -> dict[tuple[str, str, int], int]:
        """Every consumer group's committed offsets: (group, topic, partition) -> offset."""
        assert self._admin is not None
        offsets = {}
        for group in self.groups:
            tps = [
                TopicPartition(self.names.physical(topic), p)
                for topic in group.topics
                for p in range(self.settings.topic_partitions)
            ]
            found = await self._admin.list_consumer_group_offsets(group.name, partitions=tps)
            for tp, meta in found.items():
                offsets[(group.name, tp.topic, tp.partition)] = meta.offset
        return offsets

    async def dead_letters(self) -> dict[str, int]:
        """How many messages each dead-letter topic holds."""
        counts = {}
        for logical in all_topics():
            if logical.endswith(dlq_of("")):
                counts[logical] = sum((await self.end_offsets(logical)).values())
        return counts

    # --- is anything still in flight? ----------------------------------------------------------

    async def outbox_rows(self) -> dict[str, int]:
        return {
            s: int(await self.db.fetchval(f'SELECT count(*) FROM "{s}".outbox')) for s in SERVICES
        }

    async def pending_work(self) -> list[str]:
        """Empty once nothing is left to do. Checked downstream in pipeline order, twice over
        (appeals travel two hops: intake → dispatch → tracking/notify): outboxes empty, then
        every group at the end of its topics (so every effect and the outbox rows it caused are
        committed), then outboxes again, lags again, then notifications awaiting delivery. Each
        check runs after the one upstream of it, so no work can hide between two checks."""
        pending: list[str] = []
        for _hop in range(2):
            for schema, n in (await self.outbox_rows()).items():
                if n:
                    pending.append(f"{schema}.outbox: {n} rows")
            for group in self.groups:
                if lag := await self.lag(group):
                    pending.append(f"{group.name} behind by {lag}")
            if pending:
                return pending
        waiting = await self.db.fetchval(
            "SELECT count(*) FROM notify.notifications WHERE status = 'pending'"
        )
        return [f"{waiting} notifications pending"] if waiting else []

    async def drained(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = await self.pending_work()
        while pending and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            pending = await self.pending_work()
        if pending:
            raise AssertionError(f"still in flight after {timeout_s:.0f}s: {pending}")

    # --- counting ------------------------------------------------------------------------------

    async def facts(self) -> Facts:
        facts = Facts()
        facts.intake = {
            str(r[0]) for r in await self.db.fetch("SELECT appeal_id FROM intake.appeals")
        }
        for r in await self.db.fetch(
            # The CSO's assistant of an enterprise's appeal, as dispatch named them to notify.
            """SELECT a.appeal_id, a.officer_id, a.reason_code, c.paired_officer_id
               FROM dispatch.assignments a
               LEFT JOIN dispatch.enterprises e
                      ON e.credit_code = upper(trim(a.routing_input->>'credit_code'))
               LEFT JOIN dispatch.officers c ON c.officer_id = e.cso_officer_id"""
        ):
            facts.assignments[str(r[0])] = r[1]
            facts.routing[str(r[0])] = (r[2], r[3])
        for r in await self.db.fetch("SELECT appeal_id, status, officer_id FROM tracking.appeals"):
            facts.tracking[str(r[0])] = (r[1], r[2])
        for r in await self.db.fetch(
            "SELECT appeal_id, kind, count(*) FROM tracking.history GROUP BY appeal_id, kind"
        ):
            facts.history[str(r[0])][r[1]] = r[2]
        for r in await self.db.fetch(
            "SELECT appeal_id, envelope->>'type' FROM tracking.waiting_events ORDER BY id"
        ):
            facts.waiting[str(r[0])].append(r[1])
        for r in await self.db.fetch(
            """SELECT n.appeal_id, n.recipient, n.kind, n.status,
                      r.notification_id IS NOT NULL AS recorded
               FROM notify.notifications n
               LEFT JOIN notify.recorded_messages r USING (notification_id)
               -- Not about an appeal (the CSOs' five-ones reminders): not the load's doing.
               WHERE n.appeal_id IS NOT NULL"""
        ):
            facts.notifications[str(r[0])].append((r[1], r[2], r[3], r[4]))
        orphans = await self.db.fetchval(
            """SELECT count(*) FROM notify.recorded_messages r
               WHERE NOT EXISTS (SELECT 1 FROM notify.notifications n
                                 WHERE n.notification_id = r.notification_id)"""
        )
        assert orphans == 0, f"{orphans} recorded messages belong to no notification"
        return facts


def problems(facts: Facts, accepted: Set[str], *, also: Set[str] = frozenset()) -> list[str]:
    """Everything that is not exactly once, for the appeals intake accepted (`also`: appeals the
    test put on the topics itself, checked by the test, not counted as strays here)."""
    found: list[str] = []
    for appeal in sorted(accepted):
        officer = facts.assignments.get(appeal)
        if appeal not in facts.intake:
            found.append(f"{appeal}: acknowledged but not in intake's table")
        if officer is None:
            found.append(f"{appeal}: no assignment")
            continue
        status, tracked_officer = facts.tracking.get(appeal, (None, None))
        if (status, tracked_officer) != ("assigned", officer):
            found.append(f"{appeal}: tracking has {(status, tracked_officer)}, dispatch {officer}")
        history = facts.history.get(appeal, Counter())
        # Tracking's own entry besides the events': the deadlines it set on receipt.
        if history != Counter({"received": 1, "deadlines_set": 1, "assigned": 1}):
            found.append(f"{appeal}: tracking history {dict(history)}")
        notices = sorted(facts.notifications.get(appeal, []))
        reason_code, assistant = facts.routing.get(appeal, (None, None))
        kind = "triage" if reason_code == "triage" else "new_assignment"
        expected = [
            ("appellant", "appeal_received", "sent", True),
            (f"officer:{officer}", kind, "sent", True),
        ]
        if assistant and assistant != officer:
            expected.append((f"officer:{assistant}", "cso_copy", "sent", True))
        expected.sort()
        if notices != expected:
            found.append(f"{appeal}: notifications {notices}")
    known = set(accepted) | set(also)
    for where, ids in (
        ("intake", facts.intake),
        ("dispatch", set(facts.assignments)),
        ("tracking", set(facts.tracking)),
        ("notify", set(facts.notifications)),
    ):
        for stray in sorted(ids - known):
            found.append(f"{stray}: in {where} but never acknowledged to the adapter")
    return found
