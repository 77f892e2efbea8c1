"""The outbox relay: publishes a service's outbox rows in the order they were committed, then
deletes them. One relay per service publishes at a time (an advisory lock), so events leave in
commit order even with several replicas; a crash between publish and delete republishes
(consumers dedupe on event_id)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.trace import Span, SpanKind
from sqlalchemy import Table, bindparam, delete, select, text

from shared import tracing
from shared.broker import OutgoingMessage, Publisher
from shared.db import Database
from shared.metrics import OUTBOX_ERRORS, OUTBOX_PUBLISHED
from shared.worker import PollingWorker

log = logging.getLogger(__name__)


class OutboxRelay(PollingWorker):
    """Publishes outbox rows in order. One relay per service publishes at a time (an advisory
    lock), so events leave in the order they were committed even with several replicas."""

    def __init__(
        self,
        db: Database,
        table: Table,
        publisher: Publisher,
        *,
        service: str,
        batch_size: int = 500,
        poll_interval_s: float = 0.25,
        max_backoff_s: float = 10.0,
    ) -> None:
        super().__init__(
            batch_size=batch_size, poll_interval_s=poll_interval_s, max_backoff_s=max_backoff_s
        )
        self.db = db
        self.table = table
        self.publisher = publisher
        self.service = service
        self.name = f"outbox-relay-{service}"
        self.lock_name = f"jiban.outbox.{table.schema}.{table.name}"
        # Nothing when another replica's relay holds the lock (it publishes them, in order).
        c = table.c
        taken = (
            select(c.id)
            .where(text("pg_try_advisory_xact_lock(hashtext(:name))"))
            .order_by(c.id)
            .limit(bindparam("n"))
            .scalar_subquery()
        )
        self._take = (
            delete(table)
            .where(c.id.in_(taken))
            .returning(c.id, c.topic, c.key, c.value, c.headers)
        )

    async def round(self) -> int:
        """Publishes up to one batch; returns how many rows it published. One statement takes
        the lock, the rows and deletes them (published before the commit: a failed publish
        rolls the delete back)."""
        async with self.db.transaction() as session:
            rows = sorted(
                (await session.execute(self._take, {"name": self.lock_name, "n": self.batch_size}))
                .all(),
                key=lambda r: r.id,
            )
            if rows:
                await self._publish(rows)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def _publish(self, rows: Sequence[Any]) -> None:
        """With tracing on, each row's publish is a producer span whose parent is the context
        the row was written in (none: a trace of its own), and the message carries the span's
        context on to its consumers."""
        messages = [OutgoingMessage(r.topic, r.key, r.value, r.headers) for r in rows]
        if not tracing.enabled():
            await self.publisher.publish_many(messages)
            return
        spans = [self._publish_span(m) for m in messages]
        try:
            await self.publisher.publish_many(messages)
        except BaseException as exc:
            for span in spans:
                tracing.failed(span, exc)
            raise
        finally:
            for span in spans:
                if span is not None:
                    span.end()

    def _publish_span(self, message: OutgoingMessage) -> Span | None:
        span = tracing.start(
            self.service,
            f"send {message.topic}",
            kind=SpanKind.PRODUCER,
            parent=message.headers,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": self.publisher.names.physical(message.topic),
                "messaging.message.id": message.headers.get("x-event-id", ""),
                "messaging.kafka.message.key": message.key.decode(errors="replace"),
            },
        )
        if span is not None:
            tracing.inject(message.headers, span)
        return span

    def on_error(self, exc: Exception) -> None:
        OUTBOX_ERRORS.labels(self.service).inc()
