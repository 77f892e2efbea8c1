"""The other services' public HTTP APIs, called as the signed-in person (their bearer token):
the console sees exactly what that person may see, and the services decide every refusal."""

from __future__ import annotations

from typing import Any

import httpx
from opentelemetry.trace import SpanKind

from shared import tracing
from shared.settings import Settings


class ServiceUnavailable(Exception):
    """A service did not answer (down, timed out, or 5xx): the page says which, plainly."""

    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service


class SignInExpired(Exception):
    """A service refused the person's token (401): they sign in again."""


class Refused(Exception):
    """A service refused the request (4xx): `message` is its reason, `fields` the inputs it
    named, so the form can show the reason beside what the person typed."""

    def __init__(self, status: int, message: str, fields: dict[str, str]) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields


def refusal_of(response: httpx.Response) -> Refused:
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    fields: dict[str, str] = {}
    if isinstance(detail, list):
        messages = []
        for problem in detail:
            if not isinstance(problem, dict):
                continue
            loc = problem.get("loc") or []
            msg = str(problem.get("msg", ""))
            if loc:
                fields[str(loc[-1])] = msg
            messages.append(msg)
        message = "; ".join(messages) or response.reason_phrase
    else:
        message = str(detail) if detail else response.reason_phrase
    return Refused(response.status_code, message, fields)


class Backend:
    """One HTTP client per console process, shared by every request (pooled connections)."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        self.urls = {
            "dispatch": settings.console_dispatch_url.rstrip("/"),
            "tracking": settings.console_tracking_url.rstrip("/"),
            "notify": settings.console_notify_url.rstrip("/"),
        }
        self.http = httpx.AsyncClient(
            timeout=settings.console_backend_timeout_s, transport=transport
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        token: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        # With tracing on, the call is a client span of the console's request, and the service's
        # request continues it (one trace from the person's click to what it caused).
        with tracing.span(
            "console",
            f"{method} {service}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": method, "server.address": service},
        ) as span:
            tracing.inject(headers, span)
            try:
                response = await self.http.request(
                    method,
                    self.urls[service] + path,
                    params={k: v for k, v in (params or {}).items() if v not in (None, "")},
                    json=json,
                    files=files,
                    headers=headers,
                )
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(service) from exc
            if span is not None:
                span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code == 401:
            raise SignInExpired()
        if response.status_code >= 500:
            raise ServiceUnavailable(service)
        if response.status_code >= 400:
            raise refusal_of(response)
        return response.json() if response.content else None

    async def get(self, service: str, path: str, token: str, **params: Any) -> Any:
        return await self.call(service, "GET", path, token, params=params)

    async def post(self, service: str, path: str, token: str, body: Any) -> Any:
        return await self.call(service, "POST", path, token, json=body)

    async def patch(self, service: str, path: str, token: str, body: Any) -> Any:
        return await self.call(service, "PATCH", path, token, json=body)

    async def put(self, service: str, path: str, token: str, body: Any) -> Any:
        return await self.call(service, "PUT", path, token, json=body)

    async def upload(
        self,
        service: str,
        path: str,
        token: str,
        files: dict[str, tuple[str, bytes, str]],
        **params: Any,
    ) -> Any:
        """A multipart POST: `files` maps each field to (file name, bytes, content type)."""
        return await self.call(service, "POST", path, token, params=params, files=files)

    async def all_pages(
        self, service: str, path: str, token: str, *, limit: int = 500, **params: Any
    ) -> list[Any]:
        """Every item of a paged list (`items`, `next_cursor`)."""
        items: list[Any] = []
        cursor: str | None = None
        while True:
            page = await self.get(service, path, token, limit=limit, cursor=cursor, **params)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items
