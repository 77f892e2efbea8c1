"""Prometheus metrics shared by every service (labelled with the service's name)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database
from shared.outbox import backlog_of

log = logging.getLogger(__name__)

# How long a scrape waits for the database's figures before it answers with the last ones.
REFRESH_TIMEOUT_S = 3.0

MESSAGES = Counter(
    "jiban_messages_total",
    "Consumed messages by outcome (handled, duplicate, skipped_unknown_type, dead_lettered)",
    ["service", "topic", "outcome"],
)
CONSUMER_RETRIES = Counter(
    "jiban_consumer_retries_total",
    "Batch attempts that failed and were retried (transient: infrastructure; error: handler; "
    "batch: rewound); topic is '*': a service's one consumer mixes its topics in a batch",
    ["service", "topic", "kind"],
)
HANDLE_SECONDS = Histogram(
    "jiban_handle_seconds",
    "Time to handle one batch of messages, commit included (topic '*': batches mix topics)",
    ["service", "topic"],
)
BATCH_SIZE = Histogram(
    "jiban_batch_size",
    "Messages per consumed batch (topic '*': batches mix topics)",
    ["service", "topic"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
OUTBOX_PUBLISHED = Counter(
    "jiban_outbox_published_total", "Events published from the outbox", ["service"]
)
OUTBOX_ERRORS = Counter(
    "jiban_outbox_relay_errors_total", "Relay rounds that failed and will be retried", ["service"]
)
# Gauges read from the database: every replica reports the same database-wide figure, so
# alerts and charts take max() over the replicas (the help texts say so to whoever reads them).
OUTBOX_BACKLOG = Gauge(
    "jiban_outbox_backlog",
    "Rows in the outbox waiting to be published (database-wide: take max() over replicas)",
    ["service"],
)
OUTBOX_OLDEST = Gauge(
    "jiban_outbox_oldest_seconds",
    "Age of the oldest row in the outbox, 0 when empty (database-wide: take max() over replicas)",
    ["service"],
)
APPEALS_OPEN = Gauge(
    "jiban_appeals_open",
    "Appeals received and not closed (database-wide: take max() over replicas)",
    ["service"],
)
APPEALS_OVERDUE = Gauge(
    "jiban_appeals_overdue",
    "Open appeals whose officer's nearest deadline has passed unmet "
    "(database-wide: take max() over replicas)",
    ["service"],
)
APPEALS_ESCALATED = Gauge(
    "jiban_appeals_escalated",
    "Open appeals escalated (reopened twice or more) (database-wide: take max() over replicas)",
    ["service"],
)
SCHEDULER_DUE_BACKLOG = Gauge(
    "jiban_scheduler_due_backlog",
    "Deadline alarms due now and not yet fired by the scheduler "
    "(database-wide: take max() over replicas)",
    ["service"],
)
SCHEDULER_OLDEST_DUE = Gauge(
    "jiban_scheduler_oldest_due_seconds",
    "How long the longest-waiting due deadline alarm has waited to be fired, 0 when none is "
    "(database-wide: take max() over replicas)",
    ["service"],
)
APPEAL_EVENTS_WAITING = Gauge(
    "jiban_appeal_events_waiting",
    "Events about an appeal heard before its receipt, kept until the receipt comes "
    "(database-wide: take max() over replicas)",
    ["service"],
)
APPEAL_EVENTS_WAITING_OLDEST = Gauge(
    "jiban_appeal_events_waiting_oldest_seconds",
    "How long the oldest event waiting for its appeal's receipt has waited, 0 when none is "
    "(database-wide: take max() over replicas)",
    ["service"],
)
NOTIFICATIONS = Gauge(
    "jiban_notifications",
    "Notifications by state: pending, deferred (waiting for a set time), failed (given up) "
    "(database-wide: take max() over replicas)",
    ["service", "state"],
)
CONSUMER_LAG = Gauge(
    "jiban_consumer_lag",
    "Messages the group has not consumed: end offset - committed offset (end - earliest before "
    "its first commit); topic is the logical name (cluster-wide: take max() over replicas)",
    ["service", "group", "topic", "partition"],
)
DEAD_LETTERS = Counter(
    "jiban_dead_letters_total",
    "Messages this service sent to <topic>.dlq (topic: the logical origin topic)",
    ["service", "topic"],
)
METRICS_REFRESH_ERRORS = Counter(
    "jiban_metrics_refresh_errors_total",
    "Gauge refreshes that failed (source: database, kafka); the gauges keep their last values",
    ["service", "source"],
)
HTTP_REQUESTS = Counter(
    "jiban_http_requests_total",
    "HTTP requests answered, by route template (unmatched: no route) and status",
    ["service", "method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "jiban_http_request_seconds",
    "Time to answer an HTTP request: until its status and headers are sent (a stream counts "
    "its answer, not how long it stays open)",
    ["service", "method", "route"],
)
HTTP_UNAVAILABLE = Counter(
    "jiban_http_unavailable_total",
    "Requests answered 503 because a dependency was down",
    ["service"],
)


# Sets gauges from what one read of the service's own tables finds.
GaugeRefresher = Callable[[AsyncSession], Awaitable[None]]


class DatabaseGauges:
    """The gauges read from the service's database, refreshed when /metrics is scraped (the
    scrape interval paces the queries). Scrapes that come together share one refresh; it is
    bounded by a timeout, and when the database is down or slow the gauges keep their last
    values, the failure is counted and logged, and the scrape still answers."""

    def __init__(self, service: str, db: Database, *, timeout_s: float = REFRESH_TIMEOUT_S) -> None:
        self.service = service
        self.db = db
        self.timeout_s = timeout_s
        self.refreshers: list[GaugeRefresher] = []
        self._running: asyncio.Task[bool] | None = None

    def add(self, refresher: GaugeRefresher) -> None:
        self.refreshers.append(refresher)

    async def refresh(self) -> bool:
        """True when every gauge is fresh."""
        if not self.refreshers:
            return True
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._refresh())
        # A scrape that goes away (its client hung up) does not cancel the others' refresh.
        return await asyncio.shield(self._running)

    async def _refresh(self) -> bool:
        try:
            async with asyncio.timeout(self.timeout_s), self.db.sessions() as session:
                for refresher in self.refreshers:
                    await refresher(session)
            return True
        except Exception as exc:
            METRICS_REFRESH_ERRORS.labels(self.service, "database").inc()
            log.warning(
                "gauges not refreshed from the database; they keep their last values",
                extra={"error": f"{type(exc).__name__}: {exc}"[:300]},
            )
            return False


def outbox_gauges(service: str, table: Table) -> GaugeRefresher:
    async def refresh(session: AsyncSession) -> None:
        backlog = await backlog_of(session, table)
        OUTBOX_BACKLOG.labels(service).set(backlog.rows)
        OUTBOX_OLDEST.labels(service).set(backlog.oldest_s)

    return refresh


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
