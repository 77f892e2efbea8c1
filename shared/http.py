"""HTTP conventions every service shares: error bodies, 503 when a dependency is down, a body size
limit, cursor pagination, and the database session dependency."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
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


def validation_error(field: str, message: str, location: str = "query") -> JSONResponse:
    return JSONResponse(
        status_code=422,
        content={"detail": [{"loc": [location, field], "msg": message, "type": "value_error"}]},
    )


def install_error_handlers(app: FastAPI, service: str) -> None:
    @app.exception_handler(BadCursor)
    async def _bad_cursor(_request: Request, exc: BadCursor) -> JSONResponse:
        return validation_error("cursor", str(exc))

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
