"""Prometheus metrics shared by every service (labelled with the service's name)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

MESSAGES = Counter(
    "jiban_messages_total",
    "Consumed messages by outcome (handled, duplicate, skipped_unknown_type, dead_lettered)",
    ["service", "topic", "outcome"],
)
CONSUMER_RETRIES = Counter(
    "jiban_consumer_retries_total",
    "Handler attempts that failed and were retried (transient: infrastructure; error: handler)",
    ["service", "topic", "kind"],
)
HANDLE_SECONDS = Histogram(
    "jiban_handle_seconds",
    "Time to handle one batch of messages, commit included",
    ["service", "topic"],
)
BATCH_SIZE = Histogram(
    "jiban_batch_size",
    "Messages per consumed batch",
    ["service", "topic"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
OUTBOX_PUBLISHED = Counter(
    "jiban_outbox_published_total", "Events published from the outbox", ["service"]
)
OUTBOX_ERRORS = Counter(
    "jiban_outbox_relay_errors_total", "Relay rounds that failed and will be retried", ["service"]
)
OUTBOX_BACKLOG = Gauge(
    "jiban_outbox_backlog", "Events in the outbox not yet published (last relay round)", ["service"]
)
HTTP_UNAVAILABLE = Counter(
    "jiban_http_unavailable_total",
    "Requests answered 503 because a dependency was down",
    ["service"],
)


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
