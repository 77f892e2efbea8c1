"""The alert rules and the Grafana dashboard against reality: the five services run on the real
database and broker, an appeal goes through them and an adapter sends one message intake cannot
read, and then every metric the rules and the dashboard name, every label they match on or group
by, and every label value they match exactly is on the services' /metrics.

A rule on a metric nobody emits never fires, and a panel on one stays empty: this is what would
notice. (The services run in this one process, so their series share one registry; each series
says which service it comes from in its `service` label, and the checks ask for that label's
value where a query names it.)"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from factories import small_directory, submission
from observability_files import PROMETHEUS_OWN_METRICS, TARGET_LABELS, Query, parse_query, queries
from prometheus_client.parser import text_string_to_metric_families

from jiban.setup import load_demo_directory
from shared.migrations import ALL_SERVICES
from shared.settings import Settings
from shared.topics import APPEALS_IMMEDIATE, inbound_topic

pytestmark = pytest.mark.integration

# Series that only a failure this test does not cause makes (a handler failing, then retried):
# their metric must be declared (# TYPE) but may have no sample yet.
NEEDS_A_FAILURE = frozenset({"jiban_consumer_retries_total"})
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


class Exposition:
    """What the services' /metrics said: the metrics declared, and each sample's labels."""

    def __init__(self, texts: list[str]) -> None:
        self.declared: set[str] = set()
        self.samples: dict[str, list[dict[str, str]]] = {}
        for text in texts:
            for line in text.splitlines():
                if line.startswith("# TYPE "):
                    self.declared.add(line.split()[2])
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    self.samples.setdefault(sample.name, []).append(dict(sample.labels))

    def is_declared(self, metric: str) -> bool:
        bases = [metric] + [
            metric.removesuffix(s) for s in HISTOGRAM_SUFFIXES if metric.endswith(s)
        ]
        return metric in self.samples or any(base in self.declared for base in bases)

    def has(self, metric: str, **labels: str) -> bool:
        return any(labels.items() <= sample.items() for sample in self.samples.get(metric, []))


async def scrape_all(clients: dict[str, httpx.AsyncClient]) -> Exposition:
    # Each service refreshes its own database gauges when its /metrics is scraped.
    texts = []
    for client in clients.values():
        response = await client.get("/metrics")
        assert response.status_code == 200
        texts.append(response.text)
    return Exposition(texts)


async def start_together(
    running: contextlib.AsyncExitStack, run_service: Callable[[str], Any]
) -> dict[str, httpx.AsyncClient]:
    """Every service, started at the same time: each start waits for its consumer groups'
    joins, which the broker answers in parallel."""
    services = {name: run_service(name) for name in ALL_SERVICES}
    started = await asyncio.gather(
        *(service.__aenter__() for service in services.values()), return_exceptions=True
    )
    for service, result in zip(services.values(), started, strict=True):
        if not isinstance(result, BaseException):
            running.push_async_exit(service.__aexit__)
    for result in started:
        if isinstance(result, BaseException):
            raise result
    return dict(zip(services, started, strict=True))


def problems_of(query: Query, seen: Exposition) -> list[str]:
    problems = []
    for selector in query.selectors:
        metric = selector.metric
        if metric in PROMETHEUS_OWN_METRICS:
            continue
        if not seen.is_declared(metric):
            problems.append(f"{query.where}: no service emits {metric}")
            continue
        samples = seen.samples.get(metric, [])
        if not samples:
            if metric not in NEEDS_A_FAILURE:
                problems.append(f"{query.where}: {metric} has no series after the traffic")
            continue
        labels = {label for sample in samples for label in sample}
        wanted = {label for label, _, _ in selector.matchers} | set(query.grouping)
        for label in sorted(wanted - TARGET_LABELS - labels):
            problems.append(f"{query.where}: {metric} has no label {label!r}")
        for label, operator, value in selector.matchers:
            if (
                operator == "="
                and label not in TARGET_LABELS
                and not seen.has(metric, **{label: value})
            ):
                problems.append(f"{query.where}: no {metric}{{{label}={value!r}}}")
    return problems


async def test_every_metric_and_label_the_alerts_and_the_dashboard_use_is_emitted(
    settings: Settings,
    run_service: Callable[[str], Any],
    topics: Any,
    wait_until: Callable[..., Awaitable[Any]],
) -> None:
    settings.metrics_lag_interval_s = 0.2
    await load_demo_directory(settings, small_directory())  # someone for dispatch to assign
    async with contextlib.AsyncExitStack() as running:
        clients = await start_together(running, run_service)
        accepted = await clients["intake"].post("/v1/appeals", json=submission())
        assert accepted.status_code == 202, accepted.text
        missing = await clients["tracking"].get(f"/v1/appeals/{uuid.uuid4()}")
        assert missing.status_code == 404
        # JSON nested too deep to read: intake dead-letters it.
        deep = b"[" * 100_000 + b"]" * 100_000
        await topics.send(inbound_topic("hotline_12345"), deep, b"GD-unreadable")

        async def through_the_pipeline() -> Exposition | None:
            seen = await scrape_all(clients)
            done = all(
                seen.has(
                    "jiban_messages_total", service=name, topic=APPEALS_IMMEDIATE, outcome="handled"
                )
                for name in ("dispatch", "tracking", "notify")
            )
            dead = seen.has("jiban_dead_letters_total", service="intake")
            lag = seen.has("jiban_consumer_lag", service="dispatch", topic=APPEALS_IMMEDIATE)
            return seen if done and dead and lag else None

        seen = await wait_until(through_the_pipeline, timeout_s=30, every_s=0.3)

    all_queries = queries()
    assert len(all_queries) > 30
    problems = [problem for query in all_queries for problem in problems_of(query, seen)]
    assert problems == []
    # What the alerts group by is on the series they group (a second look at the main ones).
    assert seen.has("jiban_outbox_oldest_seconds", service="intake")
    assert seen.has("jiban_notifications", service="notify", state="failed")
    assert seen.has("jiban_appeals_overdue", service="tracking")
    assert seen.has(
        "jiban_http_requests_total", service="intake", route="/v1/appeals", status="202"
    )
    assert seen.has("process_resident_memory_bytes")


def test_the_checks_find_what_is_missing() -> None:
    # A misspelt metric, a label the metric does not have, a label value never emitted.
    seen = Exposition(
        [
            "# TYPE jiban_notifications gauge\n"
            'jiban_notifications{service="notify",state="pending"} 1\n'
        ]
    )
    assert problems_of(parse_query("q", "max(jiban_notification)"), seen) == [
        "q: no service emits jiban_notification"
    ]
    assert problems_of(parse_query("q", "max by (unit) (jiban_notifications)"), seen) == [
        "q: jiban_notifications has no label 'unit'"
    ]
    assert problems_of(parse_query("q", 'max(jiban_notifications{state="failed"})'), seen) == [
        "q: no jiban_notifications{state='failed'}"
    ]
    assert problems_of(parse_query("q", "max by (state, job) (jiban_notifications)"), seen) == []
