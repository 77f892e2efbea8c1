"""Watching the topics for the moments that matter, from the envelopes' `occurred_at`: no polling
of any service, and no consumer group (nothing to join, nothing the services could notice).

- accepted: AppealReceived on appeals.immediate (intake's commit, or the bench's send in direct
  mode);
- assigned: tracking's AppealStatusChanged to `assigned` on appeals.lifecycle (the moment it became
  visible in tracking);
- notified: NotificationSent on notifications.sent (the delivery recorded); the first one per
  appeal, and the officer's `new_assignment`, the last thing the pipeline does for an appeal."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from jiban.bench.report import Samples
from shared.broker import kafka_client_options
from shared.events import AppealReceived, AppealStatusChanged, NotificationSent
from shared.settings import Settings
from shared.topics import APPEALS_IMMEDIATE, APPEALS_LIFECYCLE, NOTIFICATIONS_SENT, TopicNames
from shared.vocabulary import AppealStatus

log = logging.getLogger(__name__)

# The officer hears of an appeal after it was assigned (a duty supervisor hears of one that no
# rule could route, as triage): when that is recorded, it is done.
LAST_NOTIFICATION_KINDS = frozenset({"new_assignment", "triage"})


def _timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


class Observer:
    """Reads the three topics from the beginning into `samples` until stopped."""

    def __init__(self, settings: Settings, names: TopicNames) -> None:
        self.settings = settings
        self.names = names
        self.samples = Samples()
        self.officer_notified: dict[str, float] = {}
        self.seen = 0
        self._stop = asyncio.Event()

    def record(self, topic: str, envelope: dict[str, Any]) -> None:
        """Folds one envelope into the samples (the first sighting of each milestone wins:
        redeliveries change nothing)."""
        subject, kind = envelope["subject_id"], envelope["type"]
        at = _timestamp(envelope["occurred_at"])
        logical = self.names.logical(topic)
        if logical == APPEALS_IMMEDIATE and kind == AppealReceived.TYPE:
            self.samples.accepted.setdefault(subject, at)
        elif logical == APPEALS_LIFECYCLE and kind == AppealStatusChanged.TYPE:
            if envelope["payload"]["to_status"] == AppealStatus.ASSIGNED:
                self.samples.assigned.setdefault(subject, at)
        elif logical == NOTIFICATIONS_SENT and kind == NotificationSent.TYPE:
            first = self.samples.first_notified
            first[subject] = min(at, first.get(subject, at))
            if envelope["payload"]["kind"] in LAST_NOTIFICATION_KINDS:
                self.officer_notified.setdefault(subject, at)
        else:
            return
        if subject in self.samples.assigned and subject in self.officer_notified:
            done = max(self.samples.assigned[subject], self.officer_notified[subject])
            self.samples.done.setdefault(subject, done)

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            enable_auto_commit=False,
            **kafka_client_options(self.settings),
        )
        await consumer.start()
        try:
            partitions = []
            for logical in (APPEALS_IMMEDIATE, APPEALS_LIFECYCLE, NOTIFICATIONS_SENT):
                topic = self.names.physical(logical)
                for p in sorted(consumer.partitions_for_topic(topic) or []):
                    partitions.append(TopicPartition(topic, p))
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=200)
                for tp, messages in batch.items():
                    for m in messages:
                        try:
                            self.record(tp.topic, json.loads(m.value))
                        except (ValueError, KeyError, TypeError):
                            log.warning("bench: unreadable message on %s", tp.topic)
                        self.seen += 1
        finally:
            await consumer.stop()

    def stop(self) -> None:
        self._stop.set()

    async def wait_done(
        self, ids: set[str], *, stall_s: float, cap_s: float, tick_s: float = 0.2
    ) -> bool:
        """Until every id in `ids` is done; gives up after `stall_s` without progress or `cap_s`
        in all (a stuck pipeline must not hang the bench). True when all are done."""
        loop = asyncio.get_running_loop()
        start = last_progress = loop.time()
        done = 0
        while True:
            now_done = len(ids & self.samples.done.keys())
            if now_done == len(ids):
                return True
            if now_done != done:
                done, last_progress = now_done, loop.time()
            if loop.time() - last_progress > stall_s or loop.time() - start > cap_s:
                return False
            await asyncio.sleep(tick_s)
