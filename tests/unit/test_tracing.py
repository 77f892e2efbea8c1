"""Traces across the hops, with the SDK's in-memory exporter and no I/O: the outbox row keeps
the writer's `traceparent`; the relay's publish span is its child and the message carries the
publish span; a consumer's span is the child of the message's header and what its handler
publishes carries the consumer's span; a missing or malformed header starts a trace of its own
and never stops handling; an HTTP request is a server span; notify's send is a span of the
trace its notification was decided in; OTEL_* turn it on, nothing leaves it off."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import MetaData

from services.notify.deliveries.retry import RetryPolicy
from services.notify.deliveries.worker import DeliveryWorker
from services.notify.providers.base import Delivery as ProviderDelivery
from services.notify.providers.base import Provider, TransientDeliveryError
from shared import tracing
from shared.broker import OutgoingMessage, headers_for
from shared.consumer import Delivery, EventConsumer, Route, Subscription
from shared.deadletter import Origin
from shared.envelope import Envelope
from shared.events import AppealAssigned, OfficerChanged
from shared.logs import JsonFormatter
from shared.outbox import Outbox, OutboxRow, outbox_table
from shared.relay import OutboxRelay
from shared.topics import TopicNames
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from shared.vocabulary import Medium, OfficerRole

TOPIC = "appeals.assignments"
GROUP = "jiban.notify.appeals.assignments"
# A traceparent from upstream: trace 4bf9…4736, span 00f0…02b7, sampled.
UPSTREAM_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
UPSTREAM_SPAN = "00f067aa0ba902b7"
UPSTREAM = f"00-{UPSTREAM_TRACE}-{UPSTREAM_SPAN}-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.export_to(exporter)
    yield exporter
    tracing.off()


def ids(span: ReadableSpan) -> tuple[str, str]:
    context = span.get_span_context()
    assert context is not None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def parent_of(span: ReadableSpan) -> tuple[str, str] | None:
    if span.parent is None:
        return None
    return format(span.parent.trace_id, "032x"), format(span.parent.span_id, "016x")


def traceparent_of(span: ReadableSpan) -> str:
    trace_id, span_id = ids(span)
    context = span.get_span_context()
    assert context is not None
    return f"00-{trace_id}-{span_id}-{context.trace_flags:02x}"


def appeal_assigned(appeal_id: uuid.UUID | None = None) -> AppealAssigned:
    return AppealAssigned(
        appeal_id=appeal_id or uuid.uuid4(),
        officer_id="cw-dw01-1",
        reason_code="least_loaded_handler",
        reason="在岗办理人员中在办诉求最少（0 件）：李社工",
        assigned_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
        tracking_code="DW-20261127-418305-7",
    )


# --- fakes: a session that keeps the outbox rows it was given --------------------------------


class Session:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    async def execute(self, statement: Any, rows: list[dict[str, Any]] | None = None) -> None:
        self.rows.extend(rows if rows is not None else [statement.compile().params])


class Database:
    def __init__(self) -> None:
        self.sessions: list[Session] = []

    @asynccontextmanager
    async def transaction(self, *, snapshot: bool = False) -> AsyncIterator[Session]:
        session = Session()
        self.sessions.append(session)
        yield session

    def outbox_rows(self) -> list[dict[str, Any]]:
        return [row for s in self.sessions for row in s.rows]


class Inbox:
    async def record_new(
        self, session: Session, envelopes: list[Envelope], topics: list[str]
    ) -> set:
        return {e.event_id for e in envelopes}


class DeadLetters:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, origin: Origin, body: bytes, error: str) -> None:
        self.sent.append(error)


class Publisher:
    def __init__(self) -> None:
        self.names = TopicNames("t.")
        self.sent: list[OutgoingMessage] = []

    async def publish_many(self, messages: list[OutgoingMessage]) -> None:
        self.sent.extend(messages)


def outbox() -> Outbox:
    return Outbox(outbox_table(MetaData(schema="notify")))


def consumer(db: Database, dead_letters: DeadLetters | None = None) -> EventConsumer:
    seen: list[str | None] = []

    async def handler(uow: UnitOfWork, envelope: Envelope, event: Any) -> None:
        # It causes an event, as a real handler would; and it logs.
        seen.append(
            json.loads(JsonFormatter("notify").format(logging.makeLogRecord({}))).get("appeal_id")
        )
        await uow.publish(event, correlation_id=envelope.correlation_id)

    result = EventConsumer(
        service="notify",
        topic=TOPIC,
        group=GROUP,
        units=UnitsOfWork(db, outbox(), producer="notify"),  # type: ignore[arg-type]
        inbox=Inbox(),  # type: ignore[arg-type]
        dead_letters=dead_letters or DeadLetters(),  # type: ignore[arg-type]
        max_backoff_s=0.01,
    )
    result.subscribe_to(
        TOPIC,
        Subscription(
            {
                AppealAssigned.TYPE: Route(AppealAssigned, handler),
                OfficerChanged.TYPE: Route(OfficerChanged, handler),
            }
        ),
    )
    result.appeals_logged = seen  # type: ignore[attr-defined]
    return result


def origin(*headers: tuple[str, bytes]) -> Origin:
    return Origin(TOPIC, partition=1, offset=42, key=b"k", group=GROUP, headers=headers)


# --- the outbox row ----------------------------------------------------------------------------


async def test_the_outbox_row_keeps_the_traceparent_of_the_span_that_wrote_it(spans) -> None:
    session = Session()
    envelope = appeal_assigned().envelope(correlation_id="req-1", producer="dispatch")
    # The headers are taken when the event is published; the row is written at the end of
    # the unit of work, when that span may have ended.
    with tracing.span("dispatch", "handling") as current:
        assert current is not None
        inside_row = OutboxRow.of(envelope, TOPIC)
    outside_row = OutboxRow.of(envelope, TOPIC)
    await outbox().put_all(session, [inside_row, outside_row])  # type: ignore[arg-type]

    [written] = spans.get_finished_spans()
    inside, outside = (row["headers"] for row in session.rows)
    assert inside["traceparent"] == traceparent_of(written)
    assert inside["x-event-id"] == str(envelope.event_id)
    # Nothing current, nothing to continue: the relay starts a trace there.
    assert "traceparent" not in outside


def test_with_tracing_off_no_header_is_added() -> None:
    envelope = appeal_assigned().envelope(correlation_id="req-1", producer="dispatch")
    with tracing.span("dispatch", "handling") as current:
        assert current is None
        assert set(headers_for(envelope)) == {
            "content-type",
            "x-event-type",
            "x-event-id",
            "correlation_id",
        }


# --- the relay ----------------------------------------------------------------------------------


def rows(*traceparents: str | None) -> list[Any]:
    found = []
    for i, parent in enumerate(traceparents):
        headers = {"x-event-id": str(uuid.uuid4()), "content-type": "application/json"}
        if parent is not None:
            headers["traceparent"] = parent
        found.append(SimpleNamespace(id=i, topic=TOPIC, key=b"a-1", value=b"{}", headers=headers))
    return found


async def test_each_publish_is_a_child_of_its_row_and_the_message_carries_the_publish(
    spans,
) -> None:
    publisher = Publisher()
    relay = OutboxRelay(None, outbox().table, publisher, service="dispatch")  # type: ignore[arg-type]
    await relay._publish(rows(UPSTREAM, None, "00-not-a-traceparent-01"))

    first, second, third = spans.get_finished_spans()
    assert {s.kind for s in (first, second, third)} == {SpanKind.PRODUCER}
    assert first.name == f"send {TOPIC}"
    assert first.instrumentation_scope is not None
    assert first.instrumentation_scope.name == "jiban.dispatch"
    assert first.attributes is not None
    assert first.attributes["messaging.destination.name"] == f"t.{TOPIC}"
    assert parent_of(first) == (UPSTREAM_TRACE, UPSTREAM_SPAN)
    assert ids(first)[0] == UPSTREAM_TRACE
    # No context, or a malformed one: a trace of its own, published all the same.
    assert parent_of(second) is None and parent_of(third) is None
    assert ids(second)[0] != ids(third)[0]
    assert [m.headers["traceparent"] for m in publisher.sent] == [
        traceparent_of(first),
        traceparent_of(second),
        traceparent_of(third),
    ]


async def test_a_failed_publish_marks_its_spans_failed(spans) -> None:
    class Down(Publisher):
        async def publish_many(self, messages: list[OutgoingMessage]) -> None:
            raise ConnectionRefusedError(111, "broker down")

    relay = OutboxRelay(None, outbox().table, Down(), service="dispatch")  # type: ignore[arg-type]
    with pytest.raises(ConnectionRefusedError):
        await relay._publish(rows(UPSTREAM))
    [publish] = spans.get_finished_spans()
    assert publish.status.status_code is StatusCode.ERROR


async def test_with_tracing_off_the_relay_publishes_the_rows_headers_as_they_are() -> None:
    publisher = Publisher()
    relay = OutboxRelay(None, outbox().table, publisher, service="dispatch")  # type: ignore[arg-type]
    await relay._publish(rows(UPSTREAM))
    assert publisher.sent[0].headers["traceparent"] == UPSTREAM


# --- the consumer -------------------------------------------------------------------------------


async def test_a_consumer_span_is_the_child_of_the_messages_header_and_its_writes_continue_it(
    spans,
) -> None:
    db = Database()
    appeal_id = uuid.uuid4()
    body = appeal_assigned(appeal_id).envelope(correlation_id="r", producer="dispatch").to_bytes()
    handling = consumer(db)

    outcome = await handling.process(body, origin(("traceparent", UPSTREAM.encode())))

    assert outcome == "handled"
    [span] = spans.get_finished_spans()
    assert (span.kind, span.name) == (SpanKind.CONSUMER, f"process {TOPIC}")
    assert parent_of(span) == (UPSTREAM_TRACE, UPSTREAM_SPAN)
    assert span.attributes is not None
    assert span.attributes["jiban.outcome"] == "handled"
    assert span.attributes["messaging.consumer.group.name"] == GROUP
    [row] = db.outbox_rows()
    assert row["headers"]["traceparent"] == traceparent_of(span)
    # The handler's log lines named the appeal (the event is an appeal's).
    assert handling.appeals_logged == [str(appeal_id)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "headers",
    [
        (),
        (("traceparent", b"garbage"),),
        (("traceparent", b"\xff\xfe\x00"),),
        (("traceparent", b"00-" + b"0" * 32 + b"-" + b"0" * 16 + b"-01"),),  # all-zero ids
        (("traceparent", b"ff-" + UPSTREAM[3:].encode()),),  # version ff is invalid
        (("traceparent", UPSTREAM.encode() * 40),),  # far too long
        (("tracestate", b"k=v"),),  # a state with no parent
        (("traceparent", UPSTREAM[:-3].encode()), ("tracestate", b"=,=,\xff")),
    ],
    ids=["none", "garbage", "not_utf8", "zero_ids", "bad_version", "too_long", "no_parent", "cut"],
)
async def test_a_missing_or_malformed_header_starts_a_trace_of_its_own(spans, headers) -> None:
    db = Database()
    body = appeal_assigned().envelope(correlation_id="r", producer="dispatch").to_bytes()

    assert await consumer(db).process(body, origin(*headers)) == "handled"

    [span] = spans.get_finished_spans()
    assert parent_of(span) is None
    assert ids(span)[0] != UPSTREAM_TRACE
    [row] = db.outbox_rows()
    assert row["headers"]["traceparent"] == traceparent_of(span)


async def test_a_dead_lettered_message_is_a_failed_span_of_its_trace(spans) -> None:
    dead_letters = DeadLetters()
    handling = consumer(Database(), dead_letters)

    outcome = await handling.process(b"not json", origin(("traceparent", UPSTREAM.encode())))

    assert outcome == "dead_lettered" and len(dead_letters.sent) == 1
    [span] = spans.get_finished_spans()
    assert parent_of(span) == (UPSTREAM_TRACE, UPSTREAM_SPAN)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["jiban.outcome"] == "dead_lettered"


async def test_a_batch_gives_each_message_its_own_span_and_an_officers_event_no_appeal(
    spans,
) -> None:
    db = Database()
    officer = OfficerChanged(
        officer_id="cw-dw01-1",
        name="李社工",
        role=OfficerRole.COMMUNITY_WORKER,
        unit="大旺社区",
        on_duty=True,
    )
    handling = consumer(db)
    deliveries = [
        (appeal_assigned(), ("traceparent", UPSTREAM.encode())),
        (officer, ("x-other", b"1")),
    ]
    outcomes = await handling.process_batch(
        [
            Delivery(event.envelope(correlation_id="r", producer="dispatch").to_bytes(), origin(h))
            for event, h in deliveries
        ]
    )

    assert outcomes == ["handled", "handled"]
    finished = spans.get_finished_spans()
    assert len(finished) == 2
    by_parent = {parent_of(s): s for s in finished}
    assert set(by_parent) == {(UPSTREAM_TRACE, UPSTREAM_SPAN), None}
    # Each message's outbox row carries its own message's span, in one transaction.
    rows_by_type = {row["headers"]["x-event-type"]: row for row in db.outbox_rows()}
    assert rows_by_type[AppealAssigned.TYPE]["headers"]["traceparent"] == traceparent_of(
        by_parent[(UPSTREAM_TRACE, UPSTREAM_SPAN)]
    )
    assert rows_by_type[OfficerChanged.TYPE]["headers"]["traceparent"] == traceparent_of(
        by_parent[None]
    )
    assert None in handling.appeals_logged  # type: ignore[attr-defined]


async def test_with_tracing_off_a_message_is_handled_with_no_span_and_no_header() -> None:
    db = Database()
    body = appeal_assigned().envelope(correlation_id="r", producer="dispatch").to_bytes()
    assert await consumer(db).process(body, origin(("traceparent", UPSTREAM.encode()))) == (
        "handled"
    )
    [row] = db.outbox_rows()
    assert "traceparent" not in row["headers"]
    assert not trace.get_current_span().get_span_context().is_valid


# --- HTTP ---------------------------------------------------------------------------------------


def http_app(lines: list[str]) -> FastAPI:
    router = APIRouter()
    formatter = JsonFormatter("tracking")

    @router.get("/v1/appeals/{appeal_id}")
    async def appeal(appeal_id: str) -> dict[str, str]:
        lines.append(formatter.format(logging.makeLogRecord({"msg": "read"})))
        return {"appeal_id": appeal_id}

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app = FastAPI(dependencies=[Depends(tracing.note_appeal)], telemetry=tracing.http_telemetry())
    app.include_router(router)
    return app


async def test_a_request_is_a_server_span_named_by_its_route_child_of_the_callers(
    spans,
) -> None:
    lines: list[str] = []
    appeal_id = str(uuid.uuid4())
    transport = httpx.ASGITransport(app=http_app(lines))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get(f"/v1/appeals/{appeal_id}", headers={"traceparent": UPSTREAM})
        assert answer.status_code == 200
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/v1/appeals/not-a-uuid")).status_code == 200

    first, second = spans.get_finished_spans()  # the probe is not traced
    assert (first.kind, first.name) == (SpanKind.SERVER, "GET /v1/appeals/{appeal_id}")
    assert parent_of(first) == (UPSTREAM_TRACE, UPSTREAM_SPAN)
    assert first.attributes is not None
    assert first.attributes["http.response.status_code"] == 200
    assert first.attributes["jiban.appeal_id"] == appeal_id
    logged, unnamed = (json.loads(line) for line in lines)
    assert (logged["appeal_id"], logged["trace_id"], logged["span_id"]) == (
        appeal_id,
        *ids(first),
    )
    assert "appeal_id" not in unnamed and unnamed["trace_id"] == ids(second)[0]


async def test_with_tracing_off_fastapi_makes_no_span_even_with_a_global_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = InMemorySpanExporter()
    provider = tracing.export_to(exporter)
    tracing.off()
    # As if some library had set the SDK's provider globally: FastAPI would take it.
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    lines: list[str] = []
    transport = httpx.ASGITransport(app=http_app(lines))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get(f"/v1/appeals/{uuid.uuid4()}")).status_code == 200
    assert exporter.get_finished_spans() == ()
    assert "trace_id" not in json.loads(lines[0])


# --- switching it on ----------------------------------------------------------------------------


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in (
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    ):
        monkeypatch.delenv(name, raising=False)
    # Nothing here may become the process's global provider (the other tests share it).
    monkeypatch.setattr(trace, "set_tracer_provider", lambda provider: None)
    # Nowhere to send to: nothing is exported in these tests anyway.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    yield monkeypatch
    tracing.off()


def service_name() -> str:
    assert tracing._provider is not None
    return str(tracing._provider.resource.attributes["service.name"])


def test_off_unless_an_exporter_is_named(environment) -> None:
    assert tracing.configure("intake") is False
    assert not tracing.enabled()
    assert tracing.http_telemetry()["tracing"] is False
    environment.setenv("OTEL_TRACES_EXPORTER", "none")
    assert tracing.configure("intake") is False


def test_otlp_turns_it_on_named_after_the_service_unless_otel_says_otherwise(
    environment,
) -> None:
    environment.setenv("OTEL_TRACES_EXPORTER", "otlp")
    assert tracing.configure("intake") is True
    assert tracing.enabled() and service_name() == "intake"
    assert tracing.http_telemetry()["tracing"] is True

    environment.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes")
    tracing.configure("intake")
    assert service_name() == "from-attributes"
    environment.setenv("OTEL_SERVICE_NAME", "jiban-intake-eu")
    tracing.configure("intake")
    assert service_name() == "jiban-intake-eu"


def test_the_sdk_switch_wins(environment) -> None:
    environment.setenv("OTEL_TRACES_EXPORTER", "otlp")
    environment.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.configure("intake") is False


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER=zipkin is not supported"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTLP protocol grpc is not supported"),
    ],
)
def test_what_this_build_cannot_do_is_one_clear_error(environment, name, value, says) -> None:
    environment.setenv("OTEL_TRACES_EXPORTER", "otlp")
    environment.setenv(name, value)
    with pytest.raises(tracing.TracingMisconfigured, match=says):
        tracing.configure("intake")
    assert not tracing.enabled()


# --- notify's sends -----------------------------------------------------------------------------


class Gateway(Provider):
    """An SMS gateway that takes a message, or refuses it."""

    medium = Medium.SMS
    name = "sms_gateway"

    def __init__(self, refuse: bool = False) -> None:
        super().__init__()
        self.refuse = refuse
        self.current: list[str | None] = []

    @property
    def max_send_s(self) -> float:
        return 5.0

    async def send(self, session: Any, delivery: ProviderDelivery) -> None:
        self.current.append(tracing.traceparent())  # what an HTTP client would pass on
        if self.refuse:
            raise TransientDeliveryError("503 from the gateway")


def notification(traceparent: str | None) -> Any:
    return SimpleNamespace(
        notification_id=uuid.uuid4(),
        appeal_id=uuid.uuid4(),
        recipient="officer:cw-dw01-1",
        address="13700000000",
        medium="sms",
        kind="new_assignment",
        subject=None,
        body="新诉求",
        attempts=0,
        traceparent=traceparent,
    )


@pytest.mark.parametrize("refuse", [False, True], ids=["sent", "refused"])
async def test_a_send_is_a_span_of_the_trace_the_notification_was_decided_in(
    spans, refuse: bool
) -> None:
    gateway = Gateway(refuse)
    worker = DeliveryWorker(
        UnitsOfWork(Database(), outbox(), producer="notify"),  # type: ignore[arg-type]
        {Medium.SMS: gateway},
        retry=RetryPolicy(),
    )
    row = notification(UPSTREAM)

    outcome = await worker._send(row, sends_end=float("inf"))
    # What the worker records next (NotificationSent, through the outbox) continues the send.
    with tracing.within(outcome.span):
        recorded = headers_for(appeal_assigned().envelope(correlation_id="r", producer="notify"))

    [send] = spans.get_finished_spans()
    assert (send.kind, send.name) == (SpanKind.CLIENT, "deliver new_assignment by sms")
    assert parent_of(send) == (UPSTREAM_TRACE, UPSTREAM_SPAN)
    assert gateway.current == [traceparent_of(send)]
    assert recorded["traceparent"] == traceparent_of(send)
    assert send.attributes is not None
    assert send.attributes["jiban.appeal_id"] == str(row.appeal_id)
    assert send.attributes["jiban.outcome"] == ("retry" if refuse else "sent")
    assert send.status.status_code is (StatusCode.ERROR if refuse else StatusCode.UNSET)


async def test_a_notification_decided_without_a_trace_is_sent_in_one_of_its_own(spans) -> None:
    worker = DeliveryWorker(
        UnitsOfWork(Database(), outbox(), producer="notify"),  # type: ignore[arg-type]
        {Medium.SMS: Gateway()},
        retry=RetryPolicy(),
    )
    outcome = await worker._send(notification(None), sends_end=float("inf"))
    assert outcome.error is None
    [send] = spans.get_finished_spans()
    assert parent_of(send) is None


def console_backend(seen: list[httpx.Request]) -> Any:
    from services.console.backend import Backend
    from shared.settings import Settings

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": []})

    return Backend(Settings(), transport=httpx.MockTransport(answer))


async def test_the_consoles_call_to_a_service_is_a_client_span_the_service_continues(spans) -> None:
    seen: list[httpx.Request] = []
    backend = console_backend(seen)
    with tracing.span("console", "GET /queue", kind=SpanKind.SERVER) as page:
        assert page is not None
        await backend.get("tracking", "/v1/officers/cso-001/queue", "token")
    await backend.close()

    client, server = spans.get_finished_spans()
    assert (client.kind, client.name) == (SpanKind.CLIENT, "GET tracking")
    assert parent_of(client) == ids(server)
    [request] = seen
    # The service's request span is the child of the console's client span.
    assert request.headers["traceparent"].split("-")[1:3] == list(ids(client))
    assert request.headers["authorization"] == "Bearer token"


async def test_with_tracing_off_the_console_sends_no_trace_header() -> None:
    seen: list[httpx.Request] = []
    backend = console_backend(seen)
    await backend.get("tracking", "/v1/officers/cso-001/queue", "token")
    await backend.close()
    [request] = seen
    assert "traceparent" not in request.headers
