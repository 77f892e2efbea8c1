"""FastAPI's side of channel keys: guards that decide who may call a route (401, 403, 429) from
its headers, path and raw body, before FastAPI validates the body.

FastAPI reads and validates a route's body before the route runs, and a malformed JSON body is
a 422 before any dependency runs at all: a key of another channel would learn that channel's
schema. So the routers use `GuardedRoute`, which runs the route's guards first.

Wiring (app.py): build a `ChannelAuth`, `install` it on the app, and declare routes on an
`APIRouter(route_class=GuardedRoute)` with `Depends(Signed(scope))`, `Depends(SignedForBody(…))`,
`Depends(WebClient())` or `Depends(ReceiptReader())`."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar, cast

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.routing import APIRoute
from prometheus_client import Counter

from services.intake.channel_keys.keys import ChannelKey, Scope, UndecryptableSecret
from services.intake.channel_keys.service import ChannelAuth, SignedRequest
from services.intake.channel_keys.signatures import (
    AUTH_SCHEME,
    AuthFailure,
    has_signature_headers,
    missing,
    read_headers,
)
from shared.client_address import client_address
from shared.signing import HEADER_KEY
from shared.vocabulary import Channel

log = logging.getLogger(__name__)

AUTH_FAILURES = Counter(
    "jiban_intake_auth_failures_total",
    "Requests intake refused before handling them, by reason (signatures.FailureKind, "
    "rate_limited)",
    ["reason"],
)

# What a guarded route may answer before it looks at the body (its OpenAPI `responses`).
REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, wrong, stale or replayed signature"},
    403: {"description": "The key belongs to another channel or lacks the scope"},
}

T = TypeVar("T")
# Where a request keeps what its guards decided (one decision per guard and request).
_DECIDED = "jiban.intake.guards"
_PATH_CHANNEL = ("path", "channel")


def install(app: FastAPI, auth: ChannelAuth) -> None:
    """Makes `auth` what the guards use, and runs `auth.prepare()` at start-up, before the rest
    of the service starts (DevKeysInProduction stops the start)."""
    app.state.channel_auth = auth
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        await auth.prepare()
        async with inner(a) as state:
            yield state

    app.router.lifespan_context = lifespan


def channel_auth(request: Request) -> ChannelAuth:
    auth: ChannelAuth = request.app.state.channel_auth
    return auth


def _refuse(failure: AuthFailure, key_id: str | None, path: str) -> HTTPException:
    AUTH_FAILURES.labels(failure.kind.value).inc()
    # The key id is not secret; the secret and the signature are never logged.
    log.info(
        "request refused",
        extra={"reason": failure.kind.value, "key_id": key_id, "path": path},
    )
    headers = {"WWW-Authenticate": AUTH_SCHEME} if failure.status == 401 else None
    return HTTPException(failure.status, detail=failure.detail(), headers=headers)


async def _authenticate(
    request: Request,
    scope: Scope,
    channel: str | None,
    channel_loc: tuple[str, ...] = ("body", "channel"),
) -> ChannelKey:
    """The key that signed this request, or HTTPException 401/403."""
    path = request.url.path
    headers = read_headers(request.headers)
    if isinstance(headers, AuthFailure):
        raise _refuse(headers, None, path)
    raw_path: bytes = request.scope.get("raw_path") or path.encode()
    signed = SignedRequest(
        headers=headers,
        method=request.method,
        raw_path=raw_path.decode("latin-1"),
        body=await request.body(),  # kept by Starlette on the request: FastAPI reads it again
    )
    try:
        result = await channel_auth(request).authenticate(signed, scope, channel, channel_loc)
    except UndecryptableSecret:
        log.error("channel key does not decrypt", extra={"key_id": headers.key_id})
        raise HTTPException(500, detail="internal error") from None
    if isinstance(result, AuthFailure):
        raise _refuse(result, headers.key_id, path)
    return result


class Guard(ABC, Generic[T]):
    """A FastAPI dependency deciding who calls a route. Decided once per request: by
    `GuardedRoute` before the body is read, then handed to the route as its dependency."""

    async def __call__(self, request: Request) -> T:
        decided: dict[Guard[Any], Any] = request.scope.setdefault(_DECIDED, {})
        if self not in decided:
            decided[self] = await self.decide(request)
        return cast(T, decided[self])

    @abstractmethod
    async def decide(self, request: Request) -> T:
        """The caller, or HTTPException (401, 403, 429)."""


class Signed(Guard[ChannelKey]):
    """A request signed by a key with `scope` that belongs to `channel`, or to the path's
    `{channel}` when the route has one (a route with neither checks no channel)."""

    def __init__(self, scope: Scope | str, channel: Channel | None = None) -> None:
        self.scope = Scope(scope)
        self.channel = channel

    async def decide(self, request: Request) -> ChannelKey:
        channel = self.channel.value if self.channel else request.path_params.get("channel")
        return await _authenticate(request, self.scope, channel, _PATH_CHANNEL)


class SignedForBody(Guard[ChannelKey | None]):
    """For a route whose body names its channel (`POST /v1/appeals`): signed by a key of the
    body's `channel` with `scope`. Unsigned is 401 for every channel (browsers use the web
    channel's own route, `WebClient`), except under JIBAN_DEV_MODE=1, where `make run` keeps
    it open without a signature (then None)."""

    def __init__(self, scope: Scope | str = Scope.SUBMIT) -> None:
        self.scope = Scope(scope)

    async def decide(self, request: Request) -> ChannelKey | None:
        if not has_signature_headers(request.headers):
            if channel_auth(request).config.dev_mode:
                return None
            required = missing(HEADER_KEY)
            failure = AuthFailure(
                required.kind,
                required.loc,
                f"{required.msg}: the unsigned web form is POST /v1/channels/web/appeals",
            )
            raise _refuse(failure, None, request.url.path)
        return await _authenticate(request, self.scope, await _body_channel(request))


async def _body_channel(request: Request) -> str | None:
    # Read before validation: a body that names no channel is left for validation to refuse.
    try:
        data = await request.json()
    except ValueError:
        return None
    channel = data.get("channel") if isinstance(data, dict) else None
    return channel if isinstance(channel, str) else None


class WebClient(Guard[str]):
    """An unsigned request: the client's address, or 429 with Retry-After past its limit."""

    async def decide(self, request: Request) -> str:
        auth = channel_auth(request)
        client = client_address(
            request.client.host if request.client else None,
            request.headers.getlist("x-forwarded-for"),
            auth.config.trusted_proxies,
        )
        decision = auth.limit(client)
        if not decision.allowed:
            AUTH_FAILURES.labels("rate_limited").inc()
            log.info("unsigned request rate-limited", extra={"path": request.url.path})
            raise HTTPException(
                429,
                detail=[
                    {
                        "loc": ["client"],
                        "msg": "too many unsigned submissions from this address; "
                        f"retry after {decision.retry_after_s} s",
                        "type": "rate_limited",
                    }
                ],
                headers={"Retry-After": str(decision.retry_after_s)},
            )
        return client


class ReceiptReader(Guard[ChannelKey | str]):
    """Reading a receipt of the path's `{channel}`: the web channel's are read unsigned (their
    external id is the form's own UUID) and rate-limited, every other channel's are signed."""

    def __init__(self) -> None:
        self.web = WebClient()
        self.signed = Signed(Scope.SUBMIT)

    async def decide(self, request: Request) -> ChannelKey | str:
        if request.path_params.get("channel") == Channel.WEB.value:
            return await self.web(request)
        return await self.signed(request)


class GuardedRoute(APIRoute):
    """Runs the route's guards (its `Guard` dependencies) before FastAPI reads and validates the
    body, so 401, 403 and 429 come before 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        guards = [d.call for d in self.dependant.dependencies if isinstance(d.call, Guard)]
        if not guards:
            return handler

        async def guarded(request: Request) -> Response:
            for guard in guards:
                await guard(request)
            return await handler(request)

        return guarded
