"""Traces (OpenTelemetry): one trace per appeal, across every hop. An HTTP request is a server
span (FastAPI's own, given Jiban's provider: `http_telemetry`); what it publishes carries that
span's W3C `traceparent` in its outbox row; the relay's publish is a producer span whose parent
is the row's, and the Kafka message carries the publish span's context; each consumer handles a
message in a consumer span whose parent is that header, so what it publishes continues the
trace; notify keeps the context with the delivery row, and the send is a span of the same
trace. Work with no context to continue (a background worker's, a CLI's) starts a trace of its
own at the relay.

Off by default, and then as near free as it gets: every hook first checks `_tracers is None`
and returns, no context is read or written, and FastAPI is told not to trace. On when
OTEL_TRACES_EXPORTER names an exporter (`otlp`, `console`; a comma-separated list) and
OTEL_SDK_DISABLED is not `true`; the SDK's batch processor then exports from a thread of its
own, and flushes when the process exits.

The environment is read here and by the SDK, not in shared/settings.py: the OTEL_* variables are
OpenTelemetry's own, read by its SDK wherever it runs (exporter endpoint, headers, certificates,
timeouts, compression, OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*), and copying a
dozen of them into Settings would only make two places that can disagree. This module reads just
the ones that decide whether to trace at all and which exporter to build.

Tests call `export_to(InMemorySpanExporter())` and `off()` after."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.requests import Request

from shared.logs import set_appeal

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_HEADERS = (TRACEPARENT, TRACESTATE)
_PROTOCOLS = ("http/protobuf",)

_propagator = TraceContextTextMapPropagator()
# None: tracing is off. Otherwise one tracer per service (its instrumentation scope is
# `jiban.<service>`, so the services of one process, as in the tests, stay apart).
_tracers: dict[str, Tracer] | None = None
_provider: TracerProvider | None = None


class TracingMisconfigured(ValueError):
    """An OTEL_* variable asks for what this build cannot do; the message says which."""


def enabled() -> bool:
    return _tracers is not None


def configure(service: str) -> bool:
    """Sets tracing up from the OTEL_* variables for a process that runs `service`; returns
    whether it is on. Raises TracingMisconfigured for an exporter or protocol it cannot build."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        off()
        return False
    names = [
        n.strip().lower()
        for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",")
        if n.strip()
    ]
    # The SDK's own default is `otlp`; Jiban's is none, so nothing is sent anywhere unasked.
    names = [n for n in names if n != "none"]
    if not names:
        off()
        return False
    exporters = [_exporter(n) for n in names]
    provider = TracerProvider(resource=_resource(service))  # the sampler: OTEL_TRACES_SAMPLER
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))  # OTEL_BSP_* tune it
    _use(provider)
    # Any library that traces through the global API reports to the same place.
    trace.set_tracer_provider(provider)
    return True


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    if name != "otlp":
        raise TracingMisconfigured(
            f"OTEL_TRACES_EXPORTER={name} is not supported (otlp, console or none)"
        )
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol not in _PROTOCOLS:
        raise TracingMisconfigured(
            f"OTLP protocol {protocol} is not supported here (http/protobuf: port 4318)"
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # Endpoint, headers, certificates, timeout, compression: from OTEL_EXPORTER_OTLP_*.
    return OTLPSpanExporter()


def _resource(service: str) -> Resource:
    """OTEL_SERVICE_NAME, else a service.name in OTEL_RESOURCE_ATTRIBUTES, else the service's
    own name (the SDK would say unknown_service)."""
    detected = Resource.create()
    if str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        detected = detected.merge(Resource({SERVICE_NAME: service}))
    return detected


def export_to(exporter: SpanExporter) -> TracerProvider:
    """Turns tracing on with every span handed to `exporter` as it ends (the tests'
    InMemorySpanExporter); `off()` turns it off again."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: "jiban"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _use(provider)
    return provider


def _use(provider: TracerProvider) -> None:
    global _tracers, _provider
    _provider, _tracers = provider, {}


def off() -> None:
    global _tracers, _provider
    _provider, _tracers = None, None


def _tracer(service: str) -> Tracer | None:
    tracers = _tracers
    if tracers is None or _provider is None:
        return None
    tracer = tracers.get(service)
    if tracer is None:
        tracer = tracers[service] = _provider.get_tracer(f"jiban.{service}")
    return tracer


# --- the context, in headers ------------------------------------------------------------------


def inject(headers: dict[str, str], span: Span | None = None) -> None:
    """Writes the W3C headers of `span`, or of the current span, into `headers` (replacing any
    already there); nothing when tracing is off or there is no valid span."""
    if _tracers is None:
        return
    context = trace.set_span_in_context(span) if span is not None else None
    for name in _HEADERS:
        headers.pop(name, None)
    _propagator.inject(headers, context=context)


def context_from(headers: Mapping[str, str] | None) -> Context | None:
    """The context a message's or a row's headers carry; None when they carry none or a
    malformed one (then the span starts a trace of its own: bad headers never stop handling)."""
    if not headers or TRACEPARENT not in headers:
        return None
    try:
        context = _propagator.extract(
            {name: str(headers[name]) for name in _HEADERS if name in headers}
        )
    except Exception:
        return None
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def kafka_headers(headers: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    """The trace headers among a Kafka record's (name, bytes) headers."""
    found: dict[str, str] = {}
    for name, value in headers:
        if name in _HEADERS and isinstance(value, bytes | bytearray):
            found[name] = value.decode("latin-1")
    return found


def traceparent() -> str | None:
    """The current span's `traceparent`, to keep with a row that some later work continues
    (notify's deliveries); None when tracing is off or no span is current."""
    if _tracers is None:
        return None
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(TRACEPARENT)


# --- spans --------------------------------------------------------------------------------------


@contextmanager
def span(
    service: str,
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Mapping[str, str] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span | None]:
    """A span that is current inside the block. Its parent: with `parent` (W3C headers, a
    message's or a row's), the context they carry, or none when they carry none or a malformed
    one (a trace of its own); without, the current span. Yields None when tracing is off. An
    exception leaving the block is recorded and marks the span as failed."""
    tracer = _tracer(service)
    if tracer is None:
        yield None
        return
    context = (context_from(parent) or Context()) if parent is not None else None
    with tracer.start_as_current_span(
        name, context=context, kind=kind, attributes=dict(attributes or {})
    ) as current:
        yield current


def start(
    service: str,
    name: str,
    *,
    kind: SpanKind,
    parent: Mapping[str, str] | None,
    attributes: Mapping[str, Any] | None = None,
) -> Span | None:
    """A span that is not made current (the relay's publishes, one per row, all at once): its
    parent is what `parent` carries, or none (a trace of its own). The caller ends it."""
    tracer = _tracer(service)
    if tracer is None:
        return None
    return tracer.start_span(
        name,
        context=context_from(parent) or Context(),
        kind=kind,
        attributes=dict(attributes or {}),
    )


def failed(span: Span | None, exc: BaseException) -> None:
    if span is not None:
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:300]))


@contextmanager
def within(span: Span | None) -> Iterator[None]:
    """`span` is current inside the block (its work's writes continue its trace); it is not
    ended here."""
    if span is None or _tracers is None:
        yield
        return
    with trace.use_span(
        span, end_on_exit=False, record_exception=False, set_status_on_exception=False
    ):
        yield


# --- HTTP ---------------------------------------------------------------------------------------

# Probes and scrapes, every few seconds from every replica: not worth a trace each.
_UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in _UNTRACED_PATHS


def http_telemetry() -> TelemetryConfig:
    """FastAPI's own telemetry, for `FastAPI(telemetry=…)`: it makes the server span of each
    request (parent: the caller's `traceparent`, if any; named by the route template; the
    status and errors on it) whenever it has a tracer provider, and would take the global one
    once `configure` sets it: so it is given Jiban's provider, or told not to trace. Its metrics
    and logs stay off (Prometheus and the JSON logs have them), and so do its spans per
    dependency and serialisation (a request is one span)."""
    off: TelemetryConfig = {
        "tracing": False,
        "metrics": False,
        "logs": False,
        "operation_spans": False,
        "auto_configure": False,
    }
    if _provider is None:
        return off
    return {**off, "tracing": True, "tracer_provider": _provider, "exclude": _untraced}


async def note_appeal(request: Request) -> None:
    """A dependency of every route: one with an `appeal_id` in its path names the appeal in its
    log lines (and on its span); any other route names none. Async, so that it runs in the
    request's own context (each request is a task of its own under uvicorn); a plain
    dependency, not one with `yield`, which costs ten times as much on every request."""
    raw = request.path_params.get("appeal_id")
    appeal_id: str | None = None
    if isinstance(raw, str):
        try:
            appeal_id = str(UUID(raw))
        except ValueError:
            pass  # the route refuses it; a log line gets no made-up id
    set_appeal(appeal_id)
    if appeal_id is not None and _tracers is not None:
        trace.get_current_span().set_attribute("jiban.appeal_id", appeal_id)
