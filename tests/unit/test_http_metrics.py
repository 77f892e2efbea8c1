"""The HTTP metrics label requests by route template, never by raw path, and what no route took
as `unmatched`; the database-read gauges keep their last values when the database is away, and
/metrics still answers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from jiban.local_infra import free_port
from services.dispatch import tables as dispatch_tables
from shared.http_metrics import UNMATCHED, HttpMetrics
from shared.lag import ConsumerLag
from shared.metrics import CONSUMER_LAG, OUTBOX_BACKLOG, DatabaseGauges, render
from shared.service import ServiceRuntime
from shared.settings import Settings

TEMPLATE = "/v1/appeals/{appeal_id}"


def requests(service: str, method: str, route: str, status: str) -> float | None:
    return REGISTRY.get_sample_value(
        "jiban_http_requests_total",
        {"service": service, "method": method, "route": route, "status": status},
    )


def timed(service: str, method: str, route: str) -> float | None:
    return REGISTRY.get_sample_value(
        "jiban_http_request_seconds_count", {"service": service, "method": method, "route": route}
    )


def refresh_errors(service: str, source: str = "database") -> float:
    value = REGISTRY.get_sample_value(
        "jiban_metrics_refresh_errors_total", {"service": service, "source": source}
    )
    return value or 0.0


def an_app(service: str) -> FastAPI:
    app = FastAPI()

    @app.get(TEMPLATE)
    async def appeal(appeal_id: str) -> dict[str, str]:
        return {"appeal_id": appeal_id}

    @app.get("/v1/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_middleware(HttpMetrics, service=service)
    return app


@contextlib.asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # The server answers 500 for an exception the app lets out; so does the transport here.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_requests_are_counted_by_route_template_and_status() -> None:
    service = f"unit-{uuid.uuid4().hex[:8]}"
    async with client(an_app(service)) as c:
        for appeal_id in (uuid.uuid4(), uuid.uuid4(), "not-even-a-uuid"):
            assert (await c.get(f"/v1/appeals/{appeal_id}")).status_code == 200
        assert (await c.post(f"/v1/appeals/{uuid.uuid4()}")).status_code == 405
        assert (await c.get("/v1/broken")).status_code == 500

    assert requests(service, "GET", TEMPLATE, "200") == 3
    assert timed(service, "GET", TEMPLATE) == 3
    # A route that exists, with a method it does not take: still its template.
    assert requests(service, "POST", TEMPLATE, "405") == 1
    assert requests(service, "GET", "/v1/broken", "500") == 1
    body = render()[0].decode()
    assert (
        f'jiban_http_requests_total{{method="GET",route="{TEMPLATE}",service="{service}",'
        'status="200"} 3.0'
    ) in body
    assert f'jiban_http_request_seconds_bucket{{le="+Inf",method="GET",route="{TEMPLATE}"' in body
    # No raw path ever becomes a label value.
    assert "not-even-a-uuid" not in body


async def test_what_no_route_takes_is_one_label_value_however_many_paths() -> None:
    service = f"unit-{uuid.uuid4().hex[:8]}"
    async with client(an_app(service)) as c:
        for n in range(20):
            assert (await c.get(f"/wp-admin/{n}.php")).status_code == 404
        assert (await c.request("PROPFIND", "/v1/appeals/x")).status_code == 405
        assert (await c.request("BREW", "/coffee")).status_code == 404

    assert requests(service, "GET", UNMATCHED, "404") == 20
    assert requests(service, "other", TEMPLATE, "405") == 1
    assert requests(service, "other", UNMATCHED, "404") == 1
    series = [
        s
        for metric in REGISTRY.collect()
        if metric.name == "jiban_http_requests"
        for s in metric.samples
        if s.labels.get("service") == service and s.name.endswith("_total")
    ]
    assert len(series) == 3
    assert "wp-admin" not in render()[0].decode()


class FakeDatabase:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.opened = 0

    @contextlib.asynccontextmanager
    async def sessions(self) -> AsyncIterator[Any]:
        self.opened += 1
        if self.fail:
            raise ConnectionRefusedError("no database")
        yield object()


async def test_database_gauges_refresh_together_and_keep_their_values_when_it_fails() -> None:
    service = f"unit-{uuid.uuid4().hex[:8]}"
    db = FakeDatabase()
    gauges = DatabaseGauges(service, db, timeout_s=0.2)  # type: ignore[arg-type]
    calls = 0

    async def backlog(_session: Any) -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        OUTBOX_BACKLOG.labels(service).set(4)

    gauges.add(backlog)
    # Two scrapes at once share one read.
    assert await asyncio.gather(gauges.refresh(), gauges.refresh()) == [True, True]
    assert (calls, db.opened) == (1, 1)
    assert REGISTRY.get_sample_value("jiban_outbox_backlog", {"service": service}) == 4

    db.fail = True
    assert await gauges.refresh() is False
    assert refresh_errors(service) == 1
    assert REGISTRY.get_sample_value("jiban_outbox_backlog", {"service": service}) == 4

    async def stuck(_session: Any) -> None:
        await asyncio.sleep(10)

    db.fail = False
    gauges.add(stuck)
    assert await gauges.refresh() is False  # given up at the timeout, not after 10 s
    assert refresh_errors(service) == 2


async def test_metrics_answers_with_the_database_down() -> None:
    service = f"unit-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/jiban",
        dev_mode=True,
    )
    runtime = ServiceRuntime(service, settings, dispatch_tables.metadata)
    app = runtime.app(title="test", description="test")
    OUTBOX_BACKLOG.labels(service).set(9)  # what an earlier scrape read
    try:
        async with client(app) as c:
            response = await c.get("/metrics")
    finally:
        await runtime.db.dispose()
    assert response.status_code == 200
    assert f'jiban_outbox_backlog{{service="{service}"}} 9.0' in response.text
    assert refresh_errors(service) == 1
    assert requests(service, "GET", "/metrics", "200") == 1


async def test_consumer_lag_with_the_broker_down_keeps_its_values_and_counts_the_failure() -> None:
    service = f"unit-{uuid.uuid4().hex[:8]}"
    settings = Settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    consumer = SimpleNamespace(group="jiban.unit.appeals.immediate", topic="appeals.immediate")
    consumer.topics = ()
    labels = {"service": service, "group": consumer.group, "topic": consumer.topic}
    CONSUMER_LAG.labels(*labels.values(), "0").set(5)  # what an earlier round read
    lag = ConsumerLag(settings, service, [consumer], interval_s=15)  # type: ignore[list-item]
    assert await lag.round() == 0  # no exception: the loop goes on at its pace
    assert refresh_errors(service, "kafka") == 1
    assert REGISTRY.get_sample_value("jiban_consumer_lag", {**labels, "partition": "0"}) == 5
