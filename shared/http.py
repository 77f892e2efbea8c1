"""HTTP conventions every service shares: error bodies, 503 when a dependency is down, a body size
limit, no NUL in any text, cursor pagination, and the database session dependency."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.failures import DEPENDENCY_ERRORS, is_transient
from shared.metrics import HTTP_UNAVAILABLE
from shared.unit_of_work import UnitsOfWork

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_AFTER_S = 5
MAX_BODY_BYTES = 1024 * 1024


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode()


class BadCursor(ValueError):
    pass


def decode_cursor(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, json.JSONDecodeError) as exc:
        raise BadCursor("cursor is not one this service handed out") from exc
    if not isinstance(values, list):
        raise BadCursor("cursor is not one this service handed out")
    return values


# The caller's correlation id (a channel adapter's, a console's); one is made when absent.
CorrelationId = Annotated[str | None, Header(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.db.sessions() as session:
        yield session


# Read-only requests use this; writes open their own transaction so they answer after commit.
SessionDep = Annotated[AsyncSession, Depends(_session)]


async def _snapshot_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.db.sessions() as session:
        # One snapshot for every query of the request: a view put together from several
        # tables (a record and its history) never shows half of a transaction committed
        # between two of its SELECTs.
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        yield session


# For a read assembled from several queries that must agree with each other.
SnapshotSessionDep = Annotated[AsyncSession, Depends(_snapshot_session)]


def _units(request: Request) -> UnitsOfWork:
    units: UnitsOfWork = request.app.state.runtime.units
    return units


# For a change: `async with units.begin() as uow:` — committed (with its events) before the
# route answers.
UnitsDep = Annotated[UnitsOfWork, Depends(_units)]


class Problem(BaseModel):
    """One thing wrong with a request: where (`["query", "month"]`, `["header",
    "Authorization"]`), what, and which kind."""

    loc: list[str | int]
    msg: str
    type: str


class Problems(BaseModel):
    """A refusal that names what it refuses: 422, and the sign-in refusals (401, 403)."""

    detail: list[Problem]


class Message(BaseModel):
    """A refusal said in one sentence (404, 409)."""

    detail: str


def refusal(description: str, model: type[BaseModel] = Message) -> dict[str, Any]:
    """One entry of a route's `responses=`: what the refusal means and the body it has."""
    return {"model": model, "description": description}


NUL = "\x00"
NUL_MESSAGE = "text may not contain the NUL character (U+0000)"


def _nul_locations(value: Any, loc: tuple[str | int, ...]) -> list[tuple[str | int, ...]]:
    if isinstance(value, str):
        return [loc] if NUL in value else []
    if isinstance(value, dict):
        found = [(*loc, key) for key in value if NUL in key]
        for key, item in value.items():
            found += _nul_locations(item, (*loc, key))
        return found
    if isinstance(value, list):
        return [where for i, item in enumerate(value) for where in _nul_locations(item, (*loc, i))]
    return []


async def refuse_nul_characters(request: Request) -> None:
    """PostgreSQL's text and JSONB hold no U+0000, so a parameter or a body field with one
    could only fail deep in a query: 422 naming each, before the route's own validation. (The
    body FastAPI read is cached on the request; JSON writes a NUL as the escape `\\u0000`.)"""
    found: list[tuple[str | int, ...]] = [
        ("path", name) for name, value in request.path_params.items() if NUL in str(value)
    ]
    found += [
        ("query", name)
        for name, value in request.query_params.multi_items()
        if NUL in name or NUL in value
    ]
    # A form (the console's pages) is parsed from the stream, not kept as a body: the service
    # the console forwards its values to refuses NULs in them itself.
    form = request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    )
    body = b"" if form else await request.body()
    if b"\\u0000" in body:
        try:
            found += _nul_locations(json.loads(body), ("body",))
        except ValueError:
            pass  # not JSON: the route's validation says so
    if found:
        raise RequestValidationError(
            [{"loc": list(loc), "msg": NUL_MESSAGE, "type": "nul_character"} for loc in found]
        )


def validation_error(field: str, message: str, location: str = "query") -> JSONResponse:
    return JSONResponse(
        status_code=422,
        content={"detail": [{"loc": [location, field], "msg": message, "type": "value_error"}]},
    )


def install_error_handlers(app: FastAPI, service: str) -> None:
    @app.exception_handler(BadCursor)
    async def _bad_cursor(_request: Request, exc: BadCursor) -> JSONResponse:
        return validation_error("cursor", str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_refusal(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI answers a JSON body that is not UTF-8 with a bare 400 (it raises from the
        # UnicodeDecodeError); invalid input is 422 naming where, like any other bad JSON.
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            problem = {"loc": ["body"], "msg": "the body is not UTF-8 JSON", "type": "json_invalid"}
            return JSONResponse(status_code=422, content={"detail": [problem]})
        return await http_exception_handler(request, exc)

    async def _dependency_failure(request: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):
            # Nothing was stored: the caller should try again shortly, not treat it as lost.
            HTTP_UNAVAILABLE.labels(service).inc()
            log.warning(
                "dependency unavailable",
                extra={"path": request.url.path, "error": type(exc).__name__},
            )
            return JSONResponse(
                status_code=503,
                content={"detail": "a dependency is unavailable; nothing was stored, retry"},
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        log.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse(status_code=500, content={"detail": "internal error"})

    # Registered per class, not for Exception: Starlette re-raises from a catch-all handler.
    for exc_class in DEPENDENCY_ERRORS:
        app.add_exception_handler(exc_class, _dependency_failure)


class BodySizeLimit:
    """Refuses request bodies over the limit with 413 before reading them into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        received = 0

        async def limited() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        response = JSONResponse(
            status_code=413,
            content={"detail": f"request body larger than {self.max_bytes} bytes"},
        )
        await response({"type": "http"}, _no_receive, send)


class _TooLarge(Exception):
    pass


async def _no_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}
