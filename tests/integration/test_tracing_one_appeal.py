"""One appeal, one trace: the four services in this process (so one in-memory exporter sees all
their spans), one appeal submitted at intake's HTTP API, and the trace followed through every
hop to the officer's delivered notification, each parent link checked."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest
from factories import small_directory, submission
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import func, select

from jiban.setup import load_demo_directory
from services.notify.tables import officers
from shared import tracing

pytestmark = pytest.mark.integration


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.export_to(exporter)  # before the services are built: their apps take the provider
    yield exporter
    tracing.off()


def scope(span: ReadableSpan) -> str:
    assert span.instrumentation_scope is not None
    return span.instrumentation_scope.name


def attribute(span: ReadableSpan, name: str) -> object:
    return (span.attributes or {}).get(name)


async def test_one_appeal_is_one_trace_from_intake_to_the_officers_delivered_notification(
    settings, run_service, db, wait_until, spans
):
    await load_demo_directory(settings, small_directory())
    async with contextlib.AsyncExitStack() as running:
        # Started together: each waits for its consumer groups to form, and one after another
        # those waits add up.
        notify, _, _, intake = await asyncio.gather(
            *(
                running.enter_async_context(run_service(name))
                for name in ("notify", "tracking", "dispatch", "intake")
            )
        )

        async def notify_knows_the_officers() -> bool:
            async with db.transaction() as session:
                return bool(await session.scalar(select(func.count()).select_from(officers)))

        await wait_until(notify_knows_the_officers)
        answer = await intake.post("/v1/appeals", json=submission())
        assert answer.status_code == 202, answer.text
        appeal_id = answer.json()["appeal_id"]

        async def officer_told() -> dict | None:
            r = await notify.get("/v1/notifications", params={"appeal_id": appeal_id})
            return next(
                (
                    n
                    for n in r.json()["items"]
                    if n["recipient"].startswith("officer:") and n["status"] == "sent"
                ),
                None,
            )

        told = await wait_until(officer_told)

    finished = spans.get_finished_spans()
    [request] = [s for s in finished if s.kind is SpanKind.SERVER and s.name == "POST /v1/appeals"]
    trace_id = request.context.trace_id
    assert request.parent is None  # the caller sent no context: the trace starts here
    in_trace = {s.context.span_id: s for s in finished if s.context.trace_id == trace_id}

    # One appeal, one trace: every span that names the appeal is in it.
    about_the_appeal = [s for s in finished if attribute(s, "jiban.appeal_id") == appeal_id]
    assert about_the_appeal and all(s.context.trace_id == trace_id for s in about_the_appeal)
    assert {"jiban.intake", "jiban.dispatch", "jiban.tracking", "jiban.notify"} <= {
        scope(s) for s in in_trace.values()
    }

    def parent(span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None, span.name
        return in_trace[span.parent.span_id]

    # Each consumer's parent is a publish, whose parent is the span that wrote its outbox row:
    # the request, another consumer or a send, of the service that published.
    consumers = [s for s in in_trace.values() if s.kind is SpanKind.CONSUMER]
    assert len(consumers) >= 4
    for consumer in consumers:
        publish = parent(consumer)
        assert publish.kind is SpanKind.PRODUCER
        assert publish.name == f"send {consumer.attributes['messaging.destination.name']}"
        writer = parent(publish)
        assert writer.kind in (SpanKind.SERVER, SpanKind.CONSUMER, SpanKind.CLIENT)
        if writer.kind is not SpanKind.SERVER:
            assert scope(writer) == scope(publish)

    # The delivery, back to the request, hop by hop.
    [delivery] = [
        s
        for s in in_trace.values()
        if attribute(s, "jiban.notification_id") == told["notification_id"]
    ]
    chain = [delivery]
    while chain[-1].parent is not None:
        chain.append(parent(chain[-1]))
    assert [(scope(s), s.kind, s.name) for s in chain] == [
        ("jiban.notify", SpanKind.CLIENT, f"deliver new_assignment by {told['medium']}"),
        ("jiban.notify", SpanKind.CONSUMER, "process appeals.assignments"),
        ("jiban.dispatch", SpanKind.PRODUCER, "send appeals.assignments"),
        ("jiban.dispatch", SpanKind.CONSUMER, "process appeals.immediate"),
        ("jiban.intake", SpanKind.PRODUCER, "send appeals.immediate"),
        ("fastapi", SpanKind.SERVER, "POST /v1/appeals"),
    ]
    assert attribute(delivery, "jiban.outcome") == "sent"
    # Tracking heard the same appeal in the same trace.
    assert {"process appeals.immediate", "process appeals.assignments"} <= {
        s.name for s in consumers if scope(s) == "jiban.tracking"
    }
