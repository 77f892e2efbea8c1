"""At-least-once consumption with idempotent effects.

Messages come in batches (whatever one poll returned, up to `consumer_batch_size`). For every
message exactly one of these happens before the batch is acked:
- handled: the effect, its inbox row and any outbox rows commit in one transaction (together
  with the rest of the batch), then the offsets are committed (acked);
- duplicate: the inbox already has its event_id; nothing changes, the offset is committed;
- skipped: a valid envelope of a type this consumer does not know (rolling upgrades add types);
- dead-lettered: the message itself is bad (or its handler kept failing): it goes to
  `<topic>.dlq` with the error, and only then is the offset committed;
- retried in place: a dependency is down (database, broker); nothing is committed, we back off
  and try again, forever. Shutdown interrupts this and the message is redelivered later.

An ack commits the consumer's whole position, so a message must never be left in any other state:
should anything unexpected escape a batch, the batch is rewound (seek) and consumed again.
For the same reason a group member handles its messages one batch at a time, never concurrently:
to go faster, run more processes (up to the topic's partitions).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.annotations import KafkaMessage as KafkaMessageParam
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from pydantic import ValidationError

from shared import tracing
from shared.deadletter import DeadLetters, Origin
from shared.envelope import Envelope
from shared.events import Event
from shared.failures import is_transient
from shared.inbox import Inbox
from shared.logs import about_appeal
from shared.metrics import BATCH_SIZE, CONSUMER_RETRIES, HANDLE_SECONDS, MESSAGES
from shared.settings import Settings
from shared.topics import TopicNames
from shared.unit_of_work import UnitOfWork, UnitsOfWork

log = logging.getLogger(__name__)

# A handler changes its own service's tables with `uow.session` and puts the events it causes
# with `uow.publish`; the consumer commits both with the inbox row, then acks.
Handler = Callable[[UnitOfWork, Envelope, Any], Awaitable[None]]
# Called once per batch, before its handlers, with the messages about to be handled (not the
# duplicates): loads in one query per table what the handlers would otherwise read one message at
# a time (what it loads is kept on the unit of work: `uow.attached`).
Prepare = Callable[[UnitOfWork, list[tuple[Envelope, Any]]], Awaitable[None]]


# The label of a service's one consumer (shared/service.py) in metrics and logs: it reads all
# of the service's topics; each message's own topic labels what happened to it.
ALL_TOPICS = "*"


@dataclass(frozen=True)
class Route:
    """What to do with one event type: validate the payload as `model`, then call `handler`."""

    model: type[Event]
    handler: Handler


@dataclass(frozen=True)
class Subscription:
    """What a consumer does with one topic's messages: its routes (by event type), how to make
    an envelope of a message that is not one (adapters' native payloads: `unwrap`, which raises
    PoisonMessage), and what to load once per batch for its handlers (`prepare`)."""

    routes: dict[str, Route]
    unwrap: Callable[[bytes, Origin], Envelope] | None = None
    prepare: Prepare | None = None


# What a topic nobody subscribed gets (see EventConsumer.subscription).
_NOTHING = Subscription({})


@dataclass(frozen=True)
class Delivery:
    """One consumed message: its bytes and where it came from."""

    body: bytes
    origin: Origin


@dataclass(frozen=True)
class Parsed:
    delivery: Delivery
    envelope: Envelope
    event: Event | None
    route: Route | None


class PoisonMessage(Exception):
    """The message itself cannot be handled; retrying will not help."""


@dataclass
class ConsumerHealth:
    topic: str
    handled: int = 0
    # The same, by each message's own topic (logical): a group reads several.
    handled_by_topic: dict[str, int] = field(default_factory=dict)
    last_handled_at: float | None = None
    busy_since: float | None = None
    retrying: str | None = None

    def stuck(self, now: float, after_s: float) -> bool:
        return self.busy_since is not None and now - self.busy_since > after_s

    def report(self, now: float, after_s: float) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "handled": self.handled,
            "handled_by_topic": dict(self.handled_by_topic),
            "seconds_since_last": None
            if self.last_handled_at is None
            else round(now - self.last_handled_at, 1),
            "retrying": self.retrying,
            "stuck": self.stuck(now, after_s),
        }


@dataclass
class EventConsumer:
    """A consumer group's member: the topics it reads (`subscribe_to`, each with its own routes,
    unwrap and prepare), in the pipeline's order: within a batch one subject's messages are
    handled topic by topic in it. `topic` labels the consumer in metrics and logs (a service's
    one group: ALL_TOPICS); each message's own topic labels what happened to it."""

    service: str
    topic: str
    group: str
    # The transaction each batch is handled in (it wakes the relay after a commit that
    # published something).
    units: UnitsOfWork
    inbox: Inbox
    dead_letters: DeadLetters
    max_attempts: int = 3
    max_backoff_s: float = 10.0
    # Physical topic names to logical ones (the deployment's prefix off); set by `subscribe`.
    logical: Callable[[str], str] | None = None
    health: ConsumerHealth = field(init=False)
    _by_topic: dict[str, Subscription] = field(default_factory=dict, init=False, repr=False)
    # Batches rewound in a row (see __call__): the backoff before the batch comes again.
    _rewinds: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.health = ConsumerHealth(self.topic)

    @property
    def topics(self) -> tuple[str, ...]:
        """What it reads (logical names), in the order subscribed."""
        return tuple(self._by_topic)

    def subscribe_to(self, topic: str, subscription: Subscription) -> None:
        """Adds a topic (logical) to the group; its messages go to `subscription`."""
        if topic in self._by_topic:
            raise ValueError(f"{self.service} reads {topic} twice")
        self._by_topic[topic] = subscription

    def subscription(self, topic: str) -> Subscription:
        """What handles a message from `topic` (logical): the broker delivers only the topics
        subscribed, so a miss is a caller's mistake, and nothing routes it (skipped)."""
        return self._by_topic.get(topic, _NOTHING)

    async def __call__(self, bodies: list[bytes], message: KafkaMessage) -> None:
        """One poll's worth of messages (FastStream batch mode): handled, then acked together."""
        records = message.raw_message
        if not isinstance(records, tuple):
            records = (records,)
        deliveries = [
            Delivery(
                body,
                Origin(
                    self._origin_topic(r.topic),
                    r.partition,
                    r.offset,
                    r.key,
                    self.group,
                    tuple(r.headers or ()),
                ),
            )
            for body, r in zip(bodies, records, strict=True)
        ]
        self.health.busy_since = time.monotonic()
        started = time.perf_counter()
        try:
            try:
                outcomes = await self.process_batch(deliveries)
            except BaseException as exc:
                # Whatever escaped (a bug, a dependency failing where nothing retries it, the
                # shutdown's cancellation), some of these messages have no outcome. Returning
                # without an ack is not enough: the consumer's position is already past them, so
                # the next poll's ack would commit past them. Rewind each partition to its first
                # message in this batch: they all come again (handled ones are duplicates for the
                # inbox; a dead-lettered one may be dead-lettered twice), never skipped.
                await self._rewind(message, exc)
                if not isinstance(exc, Exception):
                    raise
                return
            self._rewinds = 0
            await self._ack(message)
        finally:
            self.health.busy_since = None
            self.health.retrying = None
        HANDLE_SECONDS.labels(self.service, self.topic).observe(time.perf_counter() - started)
        BATCH_SIZE.labels(self.service, self.topic).observe(len(deliveries))
        handled = self.health.handled_by_topic
        for delivery, outcome in zip(deliveries, outcomes, strict=True):
            topic = delivery.origin.topic
            MESSAGES.labels(self.service, topic, outcome).inc()
            handled[topic] = handled.get(topic, 0) + 1
        self.health.handled += len(deliveries)
        self.health.last_handled_at = time.monotonic()

    def _origin_topic(self, physical: str) -> str:
        return self.logical(physical) if self.logical else physical

    async def process(self, body: bytes, origin: Origin) -> str:
        """Returns the outcome; only infrastructure failures keep it from returning."""
        return (await self.process_batch([Delivery(body, origin)]))[0]

    async def process_batch(self, deliveries: list[Delivery]) -> list[str]:
        """One outcome per delivery, in order. Bad messages are dead-lettered first; the good ones
        are handled in ONE transaction (one commit for the batch instead of one per message).
        If a handler fails there, the batch is rolled back and handled one message at a time,
        so only the culprit is retried and, in the end, dead-lettered."""
        outcomes: list[str] = ["" for _ in deliveries]
        good: list[tuple[int, Parsed]] = []
        for i, delivery in enumerate(deliveries):
            try:
                parsed = self._parse(delivery)
            except PoisonMessage as exc:
                await self._dead_letter(delivery.origin, delivery.body, str(exc))
                outcomes[i] = "dead_lettered"
                continue
            if parsed.route is None:
                log.info(
                    "skipping unknown event type",
                    extra={"topic": self.topic, "event_type": parsed.envelope.type},
                )
                outcomes[i] = "skipped_unknown_type"
                continue
            good.append((i, parsed))
        if not good:
            return outcomes

        together = [parsed for _, parsed in good]
        attempts = self.max_attempts if len(together) == 1 else 1
        result = await self._handle(together, attempts)
        if isinstance(result, Exception):
            if len(together) == 1:
                await self._give_up(together[0], result)
                result = ["dead_lettered"]
            else:
                log.warning(
                    "a handler failed inside a batch; handling its messages one at a time",
                    extra={"topic": self.topic, "batch": len(together)},
                )
                result = []
                for parsed in together:
                    single = await self._handle([parsed], self.max_attempts)
                    if isinstance(single, Exception):
                        await self._give_up(parsed, single)
                        result.append("dead_lettered")
                    else:
                        result.extend(single)
        for (i, _), outcome in zip(good, result, strict=True):
            outcomes[i] = outcome
        return outcomes

    async def _handle(self, batch: list[Parsed], max_attempts: int) -> list[str] | Exception:
        """Handles the batch in one transaction. Infrastructure failures are retried for as long
        as they last; a handler error is retried up to `max_attempts` tries, then returned."""
        attempts = 0
        backoff = min(0.1, self.max_backoff_s)
        while True:
            try:
                outcomes = await self._handle_once(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                transient = is_transient(exc)
                if not transient:
                    attempts += 1
                    if attempts >= max_attempts:
                        return exc
                kind = "transient" if transient else "error"
                CONSUMER_RETRIES.labels(self.service, self.topic, kind).inc()
                self.health.retrying = kind
                log.warning(
                    "handling failed; retrying",
                    exc_info=not transient,
                    extra={
                        **self._context(batch[0]),
                        "batch": len(batch),
                        "kind": kind,
                        "error": f"{type(exc).__name__}: {exc}"[:300],
                        "retry_in_s": round(backoff, 2),
                    },
                )
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            return outcomes

    async def _handle_once(self, batch: list[Parsed]) -> list[str]:
        outcomes = ["" for _ in batch]
        # In subject order, so that transactions running side by side (this service's other
        # consumers, other instances) lock the same rows in the same order and do not deadlock;
        # the sort is stable, so one subject's events keep their order.
        # One subject's messages from several topics go topic by topic in the pipeline's order
        # (an appeal's receipt before its assignment when both came in one poll).
        rank = {topic: n for n, topic in enumerate(self._by_topic)}
        order = sorted(
            range(len(batch)),
            key=lambda i: (
                batch[i].envelope.subject_id,
                rank.get(batch[i].delivery.origin.topic, 0),
            ),
        )
        async with self.units.begin() as uow:
            new = await self.inbox.record_new(
                uow.session,
                [p.envelope for p in batch],
                [p.delivery.origin.topic for p in batch],
            )
            await self._prepare(uow, [p for p in batch if p.envelope.event_id in new])
            for i in order:
                parsed = batch[i]
                # Each message in its own span (what its handler publishes continues the
                # message's trace) and with its appeal named in the log lines.
                with (
                    self._traced(parsed) if tracing.enabled() else about_appeal(_appeal_of(parsed))
                ) as span:
                    if parsed.envelope.event_id not in new:
                        outcomes[i] = "duplicate"
                    else:
                        # The same event twice in one batch: only its first copy is new.
                        new.discard(parsed.envelope.event_id)
                        assert parsed.route is not None
                        await parsed.route.handler(uow, parsed.envelope, parsed.event)
                        outcomes[i] = "handled"
                    if span is not None:
                        span.set_attribute("jiban.outcome", outcomes[i])
        return outcomes

    async def _prepare(self, uow: UnitOfWork, fresh: list[Parsed]) -> None:
        """Each prepare once, with the new messages of every topic it serves (topics sharing one
        load it in one query per table)."""
        wanted: dict[Prepare, dict[Any, tuple[Envelope, Any]]] = {}
        for parsed in fresh:
            prepare = self.subscription(parsed.delivery.origin.topic).prepare
            if prepare is not None:
                # The same event twice in one batch is prepared once.
                pairs = wanted.setdefault(prepare, {})
                pairs.setdefault(parsed.envelope.event_id, (parsed.envelope, parsed.event))
        for prepare, pairs in wanted.items():
            await prepare(uow, list(pairs.values()))

    @contextmanager
    def _traced(self, parsed: Parsed) -> Iterator[Span | None]:
        appeal_id = _appeal_of(parsed)
        with about_appeal(appeal_id):
            envelope, origin = parsed.envelope, parsed.delivery.origin
            with self._span(origin) as span:
                if span is not None:
                    span.set_attribute("messaging.message.id", str(envelope.event_id))
                    span.set_attribute("jiban.event_type", envelope.type)
                    if appeal_id is not None:
                        span.set_attribute("jiban.appeal_id", appeal_id)
                yield span

    def _span(self, origin: Origin) -> AbstractContextManager[Span | None]:
        """A consumer span whose parent is the context in the message's `traceparent` header
        (none, or a malformed one: a trace of its own)."""
        return tracing.span(
            self.service,
            f"process {origin.topic}",
            kind=SpanKind.CONSUMER,
            parent=tracing.kafka_headers(origin.headers),
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": origin.topic,
                "messaging.consumer.group.name": self.group,
                "messaging.destination.partition.id": str(origin.partition),
                "messaging.kafka.offset": origin.offset,
            },
        )

    async def _give_up(self, parsed: Parsed, exc: Exception) -> None:
        log.error(
            "handler kept failing; dead-lettering",
            exc_info=exc,
            extra=self._context(parsed),
        )
        delivery = parsed.delivery
        await self._dead_letter(delivery.origin, delivery.body, f"{type(exc).__name__}: {exc}")

    def _parse(self, delivery: Delivery) -> Parsed:
        """Raises PoisonMessage for whatever is wrong with the message itself (whichever
        exception unwrapping or validating it raised: an unwrap's Envelope(...) refusing a long
        key, json.loads' RecursionError on deep nesting); only infrastructure failures come out
        as themselves (a retry may cure them)."""
        try:
            return self._parse_or_raise(delivery)
        except PoisonMessage:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise
            raise PoisonMessage(f"unreadable message: {type(exc).__name__}: {exc}"[:1000]) from exc

    def _parse_or_raise(self, delivery: Delivery) -> Parsed:
        subscription = self.subscription(delivery.origin.topic)
        try:
            if subscription.unwrap is not None:
                envelope = subscription.unwrap(delivery.body, delivery.origin)
            else:
                envelope = Envelope.model_validate_json(delivery.body)
        except ValidationError as exc:
            raise PoisonMessage(f"invalid envelope: {_errors(exc)}") from exc
        route = subscription.routes.get(envelope.type)
        if route is None:
            return Parsed(delivery, envelope, None, None)
        try:
            event = route.model.model_validate(envelope.payload)
        except ValidationError as exc:
            raise PoisonMessage(f"invalid {envelope.type} payload: {_errors(exc)}") from exc
        return Parsed(delivery, envelope, event, route)

    async def _dead_letter(self, origin: Origin, body: bytes, error: str) -> None:
        with self._span(origin) as span:
            if span is not None:
                span.set_attribute("jiban.outcome", "dead_lettered")
                span.set_status(Status(StatusCode.ERROR, error[:300]))
            await self._send_dead_letter(origin, body, error)

    async def _send_dead_letter(self, origin: Origin, body: bytes, error: str) -> None:
        backoff = 0.5
        while True:
            try:
                await self.dead_letters.send(origin, body, error)
                log.warning(
                    "dead-lettered a message",
                    extra={
                        "topic": self.topic,
                        "partition": origin.partition,
                        "offset": origin.offset,
                        "error": error[:300],
                    },
                )
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                # Until the dead letter is safely stored, the offset must not move.
                self.health.retrying = "dead_letter"
                log.warning("could not publish dead letter; retrying", exc_info=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)

    async def _rewind(self, message: KafkaMessage, exc: BaseException) -> None:
        """Seeks each partition back to its first message in the batch, so that nothing in it is
        committed past; after an error, backs off: the same batch failing the same way must not
        spin."""
        records = message.raw_message
        earliest: dict[TopicPartition, int] = {}
        for record in records if isinstance(records, tuple) else (records,):
            tp = TopicPartition(record.topic, record.partition)
            earliest[tp] = min(record.offset, earliest.get(tp, record.offset))
        for tp, offset in earliest.items():
            try:
                message.consumer.seek(tp, offset)
            except Exception:
                # The partition is no longer ours (a rebalance): its new owner starts from the
                # last commit, which is before this batch.
                log.warning("could not rewind a partition", exc_info=True, extra={"tp": str(tp)})
        if not isinstance(exc, Exception):
            return
        self._rewinds += 1
        backoff = min(0.1 * 2 ** min(self._rewinds - 1, 20), self.max_backoff_s)
        CONSUMER_RETRIES.labels(self.service, self.topic, "batch").inc()
        self.health.retrying = "batch"
        log.error(
            "batch failed unexpectedly; it will be consumed again",
            exc_info=exc,
            extra={"topic": self.topic, "retry_in_s": round(backoff, 2)},
        )
        await asyncio.sleep(backoff * (0.5 + random.random()))

    async def _ack(self, message: KafkaMessage) -> None:
        try:
            await message.ack()
        except Exception:
            # The offset stays behind (e.g. a rebalance took the partition): the message comes
            # again, and the inbox makes the repeat harmless.
            log.warning("offset commit failed; the message may be redelivered", exc_info=True)

    def _context(self, parsed: Parsed) -> dict[str, Any]:
        envelope, origin = parsed.envelope, parsed.delivery.origin
        return {
            "topic": self.topic,
            "partition": origin.partition,
            "offset": origin.offset,
            "event_id": str(envelope.event_id),
            "event_type": envelope.type,
            "correlation_id": envelope.correlation_id,
            **({"appeal_id": appeal_id} if (appeal_id := _appeal_of(parsed)) else {}),
        }


def _appeal_of(parsed: Parsed) -> str | None:
    """The appeal a message is about: its envelope's subject, when its event is an appeal's
    (it has an appeal id; an event about an officer, an enterprise or a month has none)."""
    if getattr(parsed.event, "appeal_id", None) is None:
        return None
    return parsed.envelope.subject_id


def _errors(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()]
    return "; ".join(parts)[:1000]


async def _raw_body(message: Any) -> list[bytes]:
    # Decoding is the consumer's job: a body FastStream failed to decode would be acked past.
    bodies: list[bytes] = message.body
    return bodies


def subscribe(
    broker: KafkaBroker, consumer: EventConsumer, names: TopicNames, settings: Settings
) -> None:
    """Registers the consumer on the broker with the only safe settings: its own group, manual
    acks, and starting from the earliest offset when the group is new."""

    async def handle(bodies: list[bytes], message: KafkaMessageParam) -> None:
        await consumer(bodies, message)

    handle.__name__ = f"{consumer.service}_{consumer.topic.replace('.', '_').replace('*', 'all')}"
    consumer.logical = names.logical
    subscriber = broker.subscriber(
        *(names.physical(topic) for topic in consumer.topics),
        group_id=consumer.group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_body,
        # A poll returns what is there (it does not wait to fill the batch), so this costs no
        # latency; under load it turns N commits into one.
        batch=True,
        max_records=settings.consumer_batch_size,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        # A handler retrying a dependency for minutes must not be taken for a dead consumer.
        max_poll_interval_ms=15 * 60 * 1000,
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=max(settings.consumer_session_timeout_ms // 3, 100),
        # Each group has one member per replica, so the replica's own name is unique in it.
        group_instance_id=settings.group_instance_id,
        # How long one poll waits for messages when there are none (it returns as soon as some
        # come): an idle consumer wakes every 5 s (a stop cancels the wait).
        batch_timeout_ms=POLL_TIMEOUT_MS,
    )
    subscriber(handle)
    _poll_without_pausing(subscriber)


POLL_TIMEOUT_MS = 5000


def _poll_without_pausing(subscriber: Any) -> None:
    """FastStream's batch subscriber sleeps as long again after a poll that found nothing, and
    what arrives meanwhile waits for the sleep: up to `batch_timeout_ms` more latency on every
    hop. The poll already waits (and wakes when messages come), so the sleep is dropped."""

    async def get_msg(consumer: Any) -> tuple[Any, ...]:
        batches = await consumer.getmany(
            timeout_ms=subscriber.batch_timeout_ms, max_records=subscriber.max_records
        )
        return tuple(itertools.chain.from_iterable(batches.values()))

    subscriber.get_msg = get_msg
