"""Counts and times every HTTP request by route template, so that the label values stay as few
as the routes: `/v1/appeals/{appeal_id}`, never `/v1/appeals/3f2a…`; `unmatched` for whatever
no route took (a scanner's guesses, a 413 refused before routing)."""

from __future__ import annotations

import time

from prometheus_client.metrics import Counter as CounterChild
from prometheus_client.metrics import Histogram as HistogramChild
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import HTTP_REQUESTS, HTTP_SECONDS

UNMATCHED = "unmatched"
# Any other method (a scanner's PROPFIND) is counted as one label value, not its own.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"


def route_of(scope: Scope) -> str:
    """The template of the route the router matched (it puts the route in the scope), else
    `unmatched`."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def method_of(scope: Scope) -> str:
    method = scope.get("method", "")
    return method if method in METHODS else OTHER_METHOD


class HttpMetrics:
    """ASGI middleware: jiban_http_requests_total and jiban_http_request_seconds. The time runs
    until the response's status and headers are sent; an exception that escapes the app is a
    500 (what the server answers for it)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        # The labelled children, looked up once per (method, route, status): a request costs
        # a dictionary lookup, not prometheus_client's label resolution.
        self._counters: dict[tuple[str, str, int], CounterChild] = {}
        self._timers: dict[tuple[str, str], HistogramChild] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = False

        async def timed(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start" and not answered:
                answered = True
                self.observe(scope, message["status"], time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, timed)
        except Exception:
            if not answered:
                self.observe(scope, 500, time.perf_counter() - started)
            raise

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        method, route = method_of(scope), route_of(scope)
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = HTTP_REQUESTS.labels(self.service, method, route, str(status))
            self._counters[(method, route, status)] = counter
        counter.inc()
        timer = self._timers.get((method, route))
        if timer is None:
            timer = HTTP_SECONDS.labels(self.service, method, route)
            self._timers[(method, route)] = timer
        timer.observe(seconds)
