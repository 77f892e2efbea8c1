"""The runtime every service is built from: database, broker, outbox relay, consumers, background
workers, and the HTTP app with health, readiness and metrics. A service's `app.py` wires its own
handlers and routes onto one of these (its composition root)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import MetaData

from shared import tracing
from shared.broker import Publisher, create_broker
from shared.consumer import ALL_TOPICS, EventConsumer, Prepare, Route, Subscription, subscribe
from shared.db import Database
from shared.deadletter import DeadLetters, Origin
from shared.envelope import Envelope
from shared.group_offsets import hand_over_offsets
from shared.http import BodySizeLimit, install_error_handlers, refuse_nul_characters
from shared.http_metrics import HttpMetrics
from shared.identity import TokenVerifier, document_refusals, install_identity, verifier_from
from shared.inbox import Inbox
from shared.lag import ConsumerLag
from shared.logs import configure_logging
from shared.metrics import DatabaseGauges, GaugeRefresher, outbox_gauges, render
from shared.outbox import Outbox
from shared.relay import OutboxRelay
from shared.settings import Settings, get_settings
from shared.topics import TopicNames
from shared.unit_of_work import UnitsOfWork

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0
PING_TIMEOUT_S = 3.0


class BackgroundWorker(Protocol):
    def start(self) -> None: ...
    async def stop(self) -> None: ...


class ServiceRuntime:
    def __init__(
        self, name: str, settings: Settings, metadata: MetaData, *, ready_needs_broker: bool = True
    ) -> None:
        self.name = name
        # Intake can take appeals while the broker is away (the outbox holds the events), so
        # a broker outage must not take it out of the load balancer.
        self.ready_needs_broker = ready_needs_broker
        self.settings = settings
        self.names = TopicNames(settings.topic_prefix)
        self.db = Database(settings)
        self.broker = create_broker(settings, name)
        self.publisher = Publisher(self.broker, self.names)
        self.outbox = Outbox(metadata.tables[f"{metadata.schema}.outbox"])
        self.inbox = Inbox(metadata.tables[f"{metadata.schema}.inbox"])
        self.relay = OutboxRelay(
            self.db,
            self.outbox.table,
            self.publisher,
            service=name,
            batch_size=settings.outbox_batch_size,
            poll_interval_s=settings.outbox_poll_interval_s,
            max_backoff_s=settings.consumer_max_backoff_s,
        )
        # Every change the service makes (routes, consumers, workers) is one of these.
        self.units = UnitsOfWork(self.db, self.outbox, producer=name, after_commit=self.relay.wake)
        self.dead_letters = DeadLetters(
            self.publisher, service=name, max_body_bytes=settings.dlq_max_body_bytes
        )
        # One group for everything the service reads (`consume`), subscribed by `app()`.
        self.consumers: list[EventConsumer] = []
        self._consumer: EventConsumer | None = None
        self._subscribed = False
        # The group each topic was read in before one group read them all: its offsets are
        # handed over at start (shared/group_offsets.py).
        self.earlier_groups: dict[str, str] = {}
        self._broker_start: asyncio.Task[None] | None = None
        # What /metrics reads from the database when scraped (add_gauge_refresher).
        self.gauges = DatabaseGauges(name, self.db)
        self.gauges.add(outbox_gauges(name, self.outbox.table))
        lag = ConsumerLag(settings, name, self.consumers, settings.metrics_lag_interval_s)
        self.workers: list[BackgroundWorker] = [self.relay, lag]

    def consume(
        self,
        topic: str,
        routes: dict[str, Route],
        unwrap: Callable[[bytes, Origin], Envelope] | None = None,
        topics: tuple[str, ...] = (),
        prepare: Prepare | None = None,
    ) -> EventConsumer:
        """Reads `topic` (or each of `topics`, with the same routes) in the service's one
        consumer group, whose batches mix its topics. `prepare` loads, once per batch, what the
        routes' handlers read (see shared/consumer.py); topics sharing one are prepared
        together. Call in the pipeline's order: a subject's messages in one batch are handled
        in it."""
        if self._subscribed:
            raise RuntimeError("consume() comes before app(): the group is subscribed there")
        if self._consumer is None:
            self._consumer = EventConsumer(
                service=self.name,
                topic=ALL_TOPICS,
                group=self.names.group(self.name),
                units=self.units,
                inbox=self.inbox,
                dead_letters=self.dead_letters,
                max_attempts=self.settings.consumer_max_attempts,
                max_backoff_s=self.settings.consumer_max_backoff_s,
            )
            self.consumers.append(self._consumer)
        for each in topics or (topic,):
            self._consumer.subscribe_to(each, Subscription(routes, unwrap, prepare))
            self.earlier_groups[each] = self.names.topic_group(self.name, topic)
        return self._consumer

    def add_worker(self, worker: BackgroundWorker) -> None:
        self.workers.append(worker)

    def add_gauge_refresher(self, refresher: GaugeRefresher) -> None:
        """`refresher(session)` sets gauges from the service's own tables at each scrape."""
        self.gauges.add(refresher)

    async def start(self) -> None:
        if self.ready_needs_broker:
            await self._start_broker()
        else:
            # Serve at once (intake takes appeals into its outbox while the broker is away, or
            # while its consumer groups form after a restart); consumers join when they can.
            self._broker_start = asyncio.create_task(self._start_broker_when_up())
        for worker in self.workers:
            worker.start()
        log.info("service started", extra={"consumers": [list(c.topics) for c in self.consumers]})

    async def _start_broker_when_up(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self._start_broker()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("broker not reachable at start; retrying", exc_info=True)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.broker.stop(), STOP_TIMEOUT_S)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.settings.consumer_max_backoff_s)

    async def _start_broker(self) -> None:
        """What `broker.start()` does, but the subscribers start together: each waits for its
        consumer group to form (the broker's initial rebalance delay, seconds), and one after
        another those waits add up."""
        if self._consumer is not None:
            await hand_over_offsets(
                self.settings, self._consumer.group, self.earlier_groups, self.names
            )
        await self.broker.connect()
        await asyncio.gather(*(sub.start() for sub in self.broker.subscribers))
        for publisher in self.broker.publishers:
            await publisher.start()
        self.broker.running = True

    async def stop(self) -> None:
        if self._broker_start is not None:
            self._broker_start.cancel()
            # aiokafka may be joining a group and not give up at once: do not wait forever.
            await asyncio.wait({self._broker_start}, timeout=STOP_TIMEOUT_S)
        for worker in reversed(self.workers):
            await worker.stop()
        # aiokafka can block on stop when every broker is gone: bound it.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.broker.stop(), STOP_TIMEOUT_S)
        await self.db.dispose()

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Any] = {}
        ready = True
        try:
            await asyncio.wait_for(self.db.ping(), PING_TIMEOUT_S)
            checks["database"] = "ok"
        except Exception as exc:
            ready = False
            checks["database"] = f"unavailable: {type(exc).__name__}"
        try:
            reachable = await self.broker.ping(timeout=PING_TIMEOUT_S)
        except Exception:
            reachable = False
        checks["broker"] = "ok" if reachable else "unavailable"
        ready = ready and (reachable or not self.ready_needs_broker)
        now = time.monotonic()
        after = self.settings.consumer_stuck_after_s
        checks["consumers"] = [
            {**c.health.report(now, after), "group": c.group, "topics": list(c.topics)}
            for c in self.consumers
        ]
        if any(c.health.stuck(now, after) for c in self.consumers):
            ready = False
        return ready, checks

    def app(self, *routers: APIRouter, title: str, description: str) -> FastAPI:
        if self._consumer is not None and not self._subscribed:
            # Every topic `consume` named, in one subscriber (one group member per replica).
            subscribe(self.broker, self._consumer, self.names, self.settings)
            self._subscribed = True

        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        app = FastAPI(
            title=title,
            description=description,
            version="0.1.0",
            lifespan=lifespan,
            dependencies=[Depends(refuse_nul_characters), Depends(tracing.note_appeal)],
            # A server span per request, when tracing is on (shared/tracing.py).
            telemetry=tracing.http_telemetry(),
        )
        app.state.runtime = self
        app.add_middleware(BodySizeLimit)
        app.add_middleware(HttpMetrics, service=self.name)
        install_error_handlers(app, self.name)
        # Every service knows who is calling its person-facing routes; a service with no way to
        # verify tokens refuses to start (IdentityNotConfigured) rather than serve them open.
        install_identity(app, self.token_verifier())
        app.include_router(self._ops_router())
        for router in routers:
            app.include_router(router)
        document_refusals(app, routers)
        return app

    def token_verifier(self) -> TokenVerifier:
        s = self.settings
        return verifier_from(
            dev_mode=s.dev_mode,
            secret=s.jwt_secret,
            jwks_url=s.jwt_jwks_url,
            audience=s.jwt_audience,
            issuer=s.jwt_issuer,
            leeway_s=s.jwt_leeway_s,
            jwks_cache_s=s.jwks_cache_s,
        )

    def _ops_router(self) -> APIRouter:
        router = APIRouter(tags=["ops"])

        @router.get("/healthz")
        async def healthz() -> dict[str, str]:
            """The process is alive and serving HTTP."""
            return {"status": "ok", "service": self.name}

        @router.get(
            "/readyz",
            responses={503: {"description": "Not ready: `checks` says what is missing"}},
        )
        async def readyz() -> JSONResponse:
            """Database and broker reachable, and no consumer stuck on a message."""
            ready, checks = await self.readiness()
            return JSONResponse(
                status_code=200 if ready else 503,
                content={"status": "ready" if ready else "not_ready", "checks": checks},
            )

        @router.get("/metrics", response_class=PlainTextResponse)
        async def metrics() -> Response:
            """Prometheus' text exposition format."""
            await self.gauges.refresh()
            body, content_type = render()
            return Response(body, media_type=content_type)

        return router


def serve(service: str, build: Callable[[Settings], FastAPI]) -> None:
    """`python -m services.<name>`: JSON logs, then uvicorn on the configured host and port."""
    settings = get_settings()
    configure_logging(service, settings.log_level)
    try:
        tracing.configure(service)
    except tracing.TracingMisconfigured as exc:
        raise SystemExit(f"{service}: {exc}") from None
    app = build(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.port_for(service),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
