"""Consumer lag: how many messages each consumer group has not consumed yet, per partition.

End offsets come from a consumer without a group (it joins nothing), committed offsets from the
admin client, one request per group naming its partitions (the embedded broker, Tansu, breaks
the connection when asked for "all of the group's offsets"). A group that has not committed on
a partition yet starts there at the earliest offset (the consumers' auto_offset_reset), so its
lag is end - earliest. Each service's runtime refreshes its own groups' lag in the background
(`ConsumerLag`); `jiban lag` reads every group of the deployment (jiban/lag.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.broker import admin_client, kafka_client_options
from shared.consumer import EventConsumer
from shared.metrics import CONSUMER_LAG, METRICS_REFRESH_ERRORS
from shared.settings import Settings
from shared.topics import TopicNames
from shared.worker import PollingWorker

log = logging.getLogger(__name__)

# A read that the broker does not answer within this is given up (and retried next round).
READ_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str  # logical
    partition: int
    end: int
    committed: int | None  # None: the group has not committed on this partition yet
    lag: int


class LagReader:
    """A consumer without a group and an admin client: `async with LagReader(settings) as
    reader` for one read (the CLI), or `start()` once and `close()` at the end (a service's
    refresher keeps it open: a new connection per broker every round would be churn a managed
    Kafka counts and a TLS and SASL handshake each time)."""

    def __init__(self, settings: Settings, *, client_id: str = "jiban-lag") -> None:
        self.names = TopicNames(settings.topic_prefix)
        options = {
            "bootstrap_servers": settings.kafka_bootstrap_servers,
            "client_id": client_id,
            **kafka_client_options(settings),
        }
        self.consumer = AIOKafkaConsumer(enable_auto_commit=False, **options)
        self.admin = admin_client(settings, client_id)

    async def start(self) -> None:
        try:
            await self.consumer.start()
            await self.admin.start()
        except BaseException:
            await self.close()
            raise

    async def __aenter__(self) -> LagReader:
        await self.start()
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def groups(self) -> list[str]:
        """Every consumer group the broker knows (of every deployment on it)."""
        return sorted(str(group[0]) for group in await self.admin.list_consumer_groups())

    def _partitions(self, topic: str) -> list[TopicPartition]:
        physical = self.names.physical(topic)
        found = self.consumer.partitions_for_topic(physical) or ()
        return [TopicPartition(physical, p) for p in sorted(found)]

    async def read(self, groups: Mapping[str, Sequence[str]]) -> list[PartitionLag]:
        """The lag of each group (id on the cluster) on each of its topics (logical names);
        topics the broker does not have are left out."""
        partitions = {
            topic: self._partitions(topic) for topic in {t for ts in groups.values() for t in ts}
        }
        everything = [tp for tps in partitions.values() for tp in tps]
        if not everything:
            return []
        ends = await self.consumer.end_offsets(everything)
        earliest = await self.consumer.beginning_offsets(everything)

        async def of_group(group: str, topics: Sequence[str]) -> list[PartitionLag]:
            mine = [tp for topic in topics for tp in partitions[topic]]
            if not mine:
                return []
            offsets = await self.admin.list_consumer_group_offsets(group, partitions=mine)
            lags = []
            for tp in mine:
                found = offsets.get(tp)
                committed = found.offset if found is not None and found.offset >= 0 else None
                start = earliest[tp] if committed is None else committed
                lags.append(
                    PartitionLag(
                        group,
                        self.names.logical(tp.topic),
                        tp.partition,
                        ends[tp],
                        committed,
                        max(ends[tp] - start, 0),
                    )
                )
            return lags

        per_group = await asyncio.gather(*(of_group(g, t) for g, t in groups.items()))
        return [lag for lags in per_group for lag in lags]


def groups_of(consumers: Iterable[EventConsumer]) -> dict[str, tuple[str, ...]]:
    """The consumers' groups and the topics each reads (logical names)."""
    return {c.group: c.topics for c in consumers}


class ConsumerLag(PollingWorker):
    """Refreshes jiban_consumer_lag for the service's own groups every `interval_s`, through one
    reader kept open between rounds; while the broker is away a read fails, is counted and
    logged in one line, the gauges keep their last values, and the reader is made afresh at the
    next round. Reads `consumers` afresh each round (the service adds its consumers after
    making this)."""

    name = "consumer-lag"

    def __init__(
        self, settings: Settings, service: str, consumers: list[EventConsumer], interval_s: float
    ) -> None:
        super().__init__(batch_size=1, poll_interval_s=interval_s, max_backoff_s=interval_s)
        self.settings = settings
        self.service = service
        self.consumers = consumers
        # Kept open between rounds; None until the first, and after a failed read.
        self.reader: LagReader | None = None

    async def round(self) -> int:
        groups = groups_of(self.consumers)
        if groups:
            try:
                async with asyncio.timeout(READ_TIMEOUT_S):
                    if self.reader is None:
                        reader = LagReader(self.settings, client_id=f"jiban-{self.service}-lag")
                        await reader.start()
                        self.reader = reader
                    lags = await self.reader.read(groups)
            except Exception as exc:
                await self._drop_reader()
                if self.stopping():
                    return 0
                # Quietly: the broker being away is already in the consumers' own log lines.
                METRICS_REFRESH_ERRORS.labels(self.service, "kafka").inc()
                log.warning(
                    "consumer lag not read; the gauges keep their last values",
                    extra={"error": f"{type(exc).__name__}: {exc}"[:300]},
                )
                return 0
            for lag in lags:
                CONSUMER_LAG.labels(self.service, lag.group, lag.topic, str(lag.partition)).set(
                    lag.lag
                )
        # Never a full batch: the next round waits for the interval.
        return 0

    async def stop(self) -> None:
        await super().stop()
        await self._drop_reader()

    async def _drop_reader(self) -> None:
        reader, self.reader = self.reader, None
        if reader is not None:
            # Bounded: with the broker gone, closing must not hold up the service's shutdown.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader.close(), CLOSE_TIMEOUT_S)
