"""What the services' /metrics say after real traffic, on the real database and broker: requests
by route template, a dead letter, the outbox's backlog while the relay cannot publish, a consumer
group's lag while its consumer cannot go on (and `jiban lag` saying the same), and the domain
gauges read from seeded rows."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from factories import envelope_of, received
from harness import sql
from prometheus_client.parser import text_string_to_metric_families

from jiban.cli import main
from jiban.failures import EXIT_UNAVAILABLE
from jiban.lag import expected_groups
from jiban.local_infra import free_port
from shared.db import Database
from shared.lag import ConsumerLag, groups_of
from shared.migrations import SERVICES
from shared.settings import Settings
from shared.topics import APPEALS_IMMEDIATE, APPEALS_LIFECYCLE, TopicNames

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def lag_of(samples: Samples, group: str, topic: str) -> float | None:
    """The group's lag on the topic, summed over its partitions (None: no series yet)."""
    found = [
        v
        for (name, labels), v in samples.items()
        if name == "jiban_consumer_lag" and {("group", group), ("topic", topic)} <= labels
    ]
    return sum(found) if found else None


async def connect(settings: Settings) -> asyncpg.Connection:
    return await asyncpg.connect(settings.database_url.replace("postgresql+asyncpg", "postgresql"))


async def test_a_service_metrics_after_real_traffic_and_jiban_lag(
    settings: Settings,
    run_service: Callable[[str], Any],
    topics: Any,
    db: Database,
    wait_until: Callable[..., Awaitable[Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings.metrics_lag_interval_s = 0.2
    names = TopicNames(settings.topic_prefix)
    group = names.group("dispatch")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers)
    monkeypatch.setenv("JIBAN_TOPIC_PREFIX", settings.topic_prefix)
    async with run_service("dispatch") as client:
        before = await scrape(client)
        dead_before = value(
            before, "jiban_dead_letters_total", service="dispatch", topic=APPEALS_IMMEDIATE
        )

        # HTTP: a route by its template, a path no route takes as `unmatched`.
        assert (await client.get("/v1/officers/nobody")).status_code == 404
        assert (await client.get(f"/wp-admin/{uuid.uuid4()}")).status_code == 404
        after = await scrape(client)
        for route in ("/v1/officers/{officer_id}", "unmatched"):
            labels = {"service": "dispatch", "method": "GET", "route": route, "status": "404"}
            counted = value(after, "jiban_http_requests_total", **labels) or 0
            assert counted - (value(before, "jiban_http_requests_total", **labels) or 0) == 1
        assert "wp-admin" not in (await client.get("/metrics")).text

        # A poison message: dead-lettered, and counted under its origin topic.
        await topics.send(APPEALS_IMMEDIATE, b"not an envelope", b"poison")

        async def dead_lettered() -> bool:
            now = value(
                await scrape(client),
                "jiban_dead_letters_total",
                service="dispatch",
                topic=APPEALS_IMMEDIATE,
            )
            return now is not None and now - (dead_before or 0) == 1

        await wait_until(dead_lettered)

        # The outbox, while the relay cannot publish (the test holds its lock): rows wait.
        lock = "SELECT pg_advisory_lock(hashtext('jiban.outbox.dispatch.outbox'))"
        holder = await connect(settings)
        try:
            await holder.execute(lock)
            for _ in range(2):
                await sql(
                    db,
                    "INSERT INTO dispatch.outbox (event_id, topic, key, value, headers, created_at)"
                    " VALUES (:id, 'notifications.sent', '\\x6b', '\\x7b7d', '{}',"
                    " now() - interval '90 seconds')",
                    id=uuid.uuid4(),
                )
            waiting = await scrape(client)
            assert value(waiting, "jiban_outbox_backlog", service="dispatch") == 2
            assert (value(waiting, "jiban_outbox_oldest_seconds", service="dispatch") or 0) >= 90
        finally:
            await holder.close()  # the lock goes with the session

        async def published() -> bool:
            now = await scrape(client)
            return value(now, "jiban_outbox_backlog", service="dispatch") == 0 and (
                value(now, "jiban_outbox_oldest_seconds", service="dispatch") == 0
            )

        await wait_until(published)

        # Lag: an appeal the consumer cannot record while the test holds its inbox.
        blocker = await connect(settings)
        try:
            transaction = blocker.transaction()
            await transaction.start()
            await blocker.execute("LOCK TABLE dispatch.inbox IN SHARE MODE")
            env = envelope_of(received())
            await topics.send(APPEALS_IMMEDIATE, env.to_bytes(), env.key)

            async def behind() -> bool:
                return lag_of(await scrape(client), group, APPEALS_IMMEDIATE) == 1

            await wait_until(behind)
            assert lag_of(await scrape(client), group, APPEALS_LIFECYCLE) == 0

            capsys.readouterr()
            assert await asyncio.to_thread(main, ["lag"]) == 0
            rows = [line.split() for line in capsys.readouterr().out.splitlines()]
            assert [group, APPEALS_IMMEDIATE, "1"] in rows
            assert [group, APPEALS_LIFECYCLE, "0"] in rows
            await transaction.rollback()
        finally:
            await blocker.close()

        async def caught_up() -> bool:
            return lag_of(await scrape(client), group, APPEALS_IMMEDIATE) == 0

        await wait_until(caught_up)


async def seed(db: Database, now: datetime) -> None:
    past, future = now - timedelta(hours=1), now + timedelta(days=1)
    appeals = [  # (status, due_at, escalated)
        ("assigned", past, False),  # open, overdue
        ("reopened", future, True),  # open, escalated
        ("in_progress", None, False),  # open
        ("closed", past, True),  # none of them
        (None, None, False),  # a bare row: an event heard before the appeal's receipt
    ]
    ids = [uuid.uuid4() for _ in appeals]
    for appeal_id, (status, due_at, escalated) in zip(ids, appeals, strict=True):
        await sql(
            db,
            "INSERT INTO tracking.appeals (appeal_id, status, due_at, escalated)"
            " VALUES (:id, :status, :due_at, :escalated)",
            id=appeal_id,
            status=status,
            due_at=due_at,
            escalated=escalated,
        )
    for stage, next_fire_at in (("acknowledge", past), ("resolve", past), ("contact", future)):
        await sql(
            db,
            "INSERT INTO tracking.deadlines (appeal_id, stage, start_at, start_basis, due_at,"
            " warn_at, public_notice_at, rule_dimension, rule_limit, reason, next_fire_at)"
            " VALUES (:id, :stage, :at, 'received', :at, :at, :at, 'urgency', '2h', 'test',"
            " :next_fire_at)",
            id=ids[0],
            stage=stage,
            at=past,
            next_fire_at=next_fire_at,
        )
    for parked_at in (past, now):
        await sql(
            db,
            "INSERT INTO tracking.waiting_events (appeal_id, topic, envelope, parked_at)"
            " VALUES (:id, 'appeals.assignments', '{}', :parked_at)",
            id=uuid.uuid4(),
            parked_at=parked_at,
        )
    for status, n in (("pending", 2), ("deferred", 1), ("failed", 3), ("sent", 4)):
        for _ in range(n):
            await sql(
                db,
                "INSERT INTO notify.notifications (notification_id, event_id, recipient, medium,"
                " kind, status, body) VALUES (:id, :event, 'officer:o1', 'sms', 'assigned',"
                " :status, 'hello')",
                id=uuid.uuid4(),
                event=uuid.uuid4(),
                status=status,
            )


@pytest.fixture
async def scraped(settings: Settings) -> AsyncIterator[Callable[[str], Awaitable[Samples]]]:
    """/metrics of a service built on the test's settings, not started: the gauges read the
    database at the scrape, with no broker involved."""
    apps = []

    async def of(name: str) -> Samples:
        app = __import__(f"services.{name}.app", fromlist=["build"]).build(settings)
        apps.append(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await scrape(client)

    yield of
    for app in apps:
        await app.state.runtime.db.dispose()


async def test_the_domain_gauges_count_the_seeded_rows(
    db: Database, scraped: Callable[[str], Awaitable[Samples]]
) -> None:
    await seed(db, datetime.now(UTC))
    tracking, notify = await scraped("tracking"), await scraped("notify")
    assert value(tracking, "jiban_appeals_open", service="tracking") == 3
    assert value(tracking, "jiban_appeals_overdue", service="tracking") == 1
    assert value(tracking, "jiban_appeals_escalated", service="tracking") == 1
    assert value(tracking, "jiban_scheduler_due_backlog", service="tracking") == 2
    # The two due alarms fell due an hour before the scrape.
    oldest = value(tracking, "jiban_scheduler_oldest_due_seconds", service="tracking")
    assert oldest is not None and 3600 <= oldest < 3600 + 120
    # Two events wait for their appeal's receipt, the older for an hour.
    assert value(tracking, "jiban_appeal_events_waiting", service="tracking") == 2
    waiting = value(tracking, "jiban_appeal_events_waiting_oldest_seconds", service="tracking")
    assert waiting is not None and 3600 <= waiting < 3600 + 120
    for state, n in (("pending", 2), ("deferred", 1), ("failed", 3)):
        assert value(notify, "jiban_notifications", service="notify", state=state) == n
    assert value(notify, "jiban_notifications", service="notify", state="sent") is None


async def test_jiban_lag_with_the_broker_down_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{port}")
    assert await asyncio.to_thread(main, ["lag"]) == EXIT_UNAVAILABLE
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(
        f"jiban lag: cannot reach the Kafka broker at 127.0.0.1:{port} "
        "(from KAFKA_BOOTSTRAP_SERVERS): "
    )
    assert err.count("\n") == 1


@pytest.mark.parametrize("service", SERVICES)
async def test_jiban_lag_knows_the_groups_the_services_really_have(service: str) -> None:
    settings = Settings(dev_mode=True, tracking_code_key="test-tracking-code-key")
    app = importlib.import_module(f"services.{service}.app").build(settings)
    try:
        wired = groups_of(app.state.runtime.consumers)
    finally:
        await app.state.runtime.db.dispose()
    expected = expected_groups(TopicNames(settings.topic_prefix))
    mine = {g: set(t) for g, t in expected.items() if g == f"jiban.{service}"}
    assert mine == {g: set(t) for g, t in wired.items()}


async def test_the_lag_refresher_keeps_one_reader_open_between_rounds(
    settings: Settings, run_service: Callable[[str], Any]
) -> None:
    async with run_service("dispatch") as client:
        [lag] = [
            w
            for w in client._transport.app.state.runtime.workers  # type: ignore[attr-defined]
            if isinstance(w, ConsumerLag)
        ]
        await lag.round()
        reader = lag.reader
        assert reader is not None
        await lag.round()
        assert lag.reader is reader, "a new connection every round"
    # Closed with the service.
    assert lag.reader is None
