"""At-least-once consumption with idempotent effects.

For every message exactly one of these happens, before the next message is looked at:
- handled: the effect, its inbox row and any outbox rows commit in one transaction, then the
  offset is committed (acked);
- duplicate: the inbox already has its event_id; nothing changes, the offset is committed;
- skipped: a valid envelope of a type this consumer does not know (rolling upgrades add types);
- dead-lettered: the message itself is bad (or its handler kept failing): it goes to
  `<topic>.dlq` with the error, and only then is the offset committed;
- retried in place: a dependency is down (database, broker); nothing is committed, we back off
  and try again, forever. Shutdown interrupts this and the message is redelivered later.

An ack commits the consumer's whole position, so a message must never be left in any other state.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.annotations import KafkaMessage as KafkaMessageParam
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database
from shared.deadletter import DeadLetters, Origin
from shared.envelope import Envelope
from shared.events import Event
from shared.failures import is_transient
from shared.inbox import Inbox
from shared.metrics import CONSUMER_RETRIES, HANDLE_SECONDS, MESSAGES
from shared.settings import Settings
from shared.topics import TopicNames

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Envelope, Any], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    """What to do with one event type: validate the payload as `model`, then call `handler`."""

    model: type[Event]
    handler: Handler


class PoisonMessage(Exception):
    """The message itself cannot be handled; retrying will not help."""


@dataclass
class ConsumerHealth:
    topic: str
    handled: int = 0
    last_handled_at: float | None = None
    busy_since: float | None = None
    retrying: str | None = None

    def stuck(self, now: float, after_s: float) -> bool:
        return self.busy_since is not None and now - self.busy_since > after_s

    def report(self, now: float, after_s: float) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "handled": self.handled,
            "seconds_since_last": None
            if self.last_handled_at is None
            else round(now - self.last_handled_at, 1),
            "retrying": self.retrying,
            "stuck": self.stuck(now, after_s),
        }


@dataclass
class EventConsumer:
    service: str
    topic: str  # logical
    group: str
    routes: dict[str, Route]
    db: Database
    inbox: Inbox
    dead_letters: DeadLetters
    max_attempts: int = 3
    max_backoff_s: float = 10.0
    # Called after each commit that may have added outbox rows (wakes the relay).
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    health: ConsumerHealth = field(init=False)

    def __post_init__(self) -> None:
        self.health = ConsumerHealth(self.topic)

    async def __call__(self, body: bytes, message: KafkaMessage) -> None:
        record = message.raw_message
        origin = Origin(self.topic, record.partition, record.offset, record.key, self.group)
        self.health.busy_since = time.monotonic()
        started = time.perf_counter()
        try:
            outcome = await self.process(body, origin)
            await self._ack(message)
        finally:
            self.health.busy_since = None
            self.health.retrying = None
        MESSAGES.labels(self.service, self.topic, outcome).inc()
        HANDLE_SECONDS.labels(self.service, self.topic).observe(time.perf_counter() - started)
        self.health.handled += 1
        self.health.last_handled_at = time.monotonic()

    async def process(self, body: bytes, origin: Origin) -> str:
        """Returns the outcome; only infrastructure failures keep it from returning."""
        try:
            envelope, event, route = self._parse(body)
        except PoisonMessage as exc:
            await self._dead_letter(origin, body, str(exc))
            return "dead_lettered"
        if route is None:
            log.info(
                "skipping unknown event type",
                extra={"topic": self.topic, "event_type": envelope.type},
            )
            return "skipped_unknown_type"

        attempts = 0
        backoff = min(0.1, self.max_backoff_s)
        while True:
            try:
                outcome = await self._handle_once(envelope, event, route)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                transient = is_transient(exc)
                if not transient:
                    attempts += 1
                    if attempts >= self.max_attempts:
                        log.exception(
                            "handler kept failing; dead-lettering",
                            extra=self._context(envelope, origin),
                        )
                        await self._dead_letter(origin, body, f"{type(exc).__name__}: {exc}")
                        return "dead_lettered"
                kind = "transient" if transient else "error"
                CONSUMER_RETRIES.labels(self.service, self.topic, kind).inc()
                self.health.retrying = kind
                log.warning(
                    "handling failed; retrying",
                    exc_info=not transient,
                    extra={
                        **self._context(envelope, origin),
                        "kind": kind,
                        "error": f"{type(exc).__name__}: {exc}"[:300],
                        "retry_in_s": round(backoff, 2),
                    },
                )
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            if outcome == "handled":
                self._after_commit()
            return outcome

    def _after_commit(self) -> None:
        for hook in self.after_commit:
            try:
                hook()
            except Exception:
                # The effect is committed; a hook (waking a relay) failing must not undo that.
                log.exception("after-commit hook failed", extra={"topic": self.topic})

    def _parse(self, body: bytes) -> tuple[Envelope, Event | None, Route | None]:
        try:
            envelope = Envelope.model_validate_json(body)
        except ValidationError as exc:
            raise PoisonMessage(f"invalid envelope: {_errors(exc)}") from exc
        route = self.routes.get(envelope.type)
        if route is None:
            return envelope, None, None
        try:
            event = route.model.model_validate(envelope.payload)
        except ValidationError as exc:
            raise PoisonMessage(f"invalid {envelope.type} payload: {_errors(exc)}") from exc
        return envelope, event, route

    async def _handle_once(self, envelope: Envelope, event: Event | None, route: Route) -> str:
        async with self.db.transaction() as session:
            if not await self.inbox.first_time(session, envelope, self.topic):
                return "duplicate"
            await route.handler(session, envelope, event)
        return "handled"

    async def _dead_letter(self, origin: Origin, body: bytes, error: str) -> None:
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

    async def _ack(self, message: KafkaMessage) -> None:
        try:
            await message.ack()
        except Exception:
            # The offset stays behind (e.g. a rebalance took the partition): the message comes
            # again, and the inbox makes the repeat harmless.
            log.warning("offset commit failed; the message may be redelivered", exc_info=True)

    def _context(self, envelope: Envelope, origin: Origin) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": origin.partition,
            "offset": origin.offset,
            "event_id": str(envelope.event_id),
            "event_type": envelope.type,
            "correlation_id": envelope.correlation_id,
        }


def _errors(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()]
    return "; ".join(parts)[:1000]


async def _raw_body(message: Any) -> bytes:
    # Decoding is the consumer's job: a body FastStream failed to decode would be acked past.
    return message.body


def subscribe(
    broker: KafkaBroker, consumer: EventConsumer, names: TopicNames, settings: Settings
) -> None:
    """Registers the consumer on the broker with the only safe settings: its own group, manual
    acks, and starting from the earliest offset when the group is new."""

    async def handle(body: bytes, message: KafkaMessageParam) -> None:
        await consumer(body, message)

    handle.__name__ = f"{consumer.service}_{consumer.topic.replace('.', '_')}"
    workers = settings.consumer_workers
    broker.subscriber(
        names.physical(consumer.topic),
        group_id=consumer.group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_body,
        max_workers=workers if workers > 1 else None,
        # A handler retrying a dependency for minutes must not be taken for a dead consumer.
        max_poll_interval_ms=15 * 60 * 1000,
    )(handle)
