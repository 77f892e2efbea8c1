"""Telling infrastructure failures (retry, commit nothing) from bad messages (dead-letter)."""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# SQLSTATE classes worth another try: connection exceptions, serialisation failures and
# deadlocks, insufficient resources, operator intervention (e.g. the server shutting down).
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "40", "53", "57")


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    for candidate in (exc, orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


# What a failing database or broker raises; `is_transient` then tells whether it is worth a retry.
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    asyncio.TimeoutError,
    PoolTimeoutError,
    DBAPIError,
    KafkaError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def is_transient(exc: BaseException) -> bool:
    """True when the failure lies with a dependency, not with the message being handled."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            OSError
            | ConnectionError
            | asyncio.TimeoutError
            | PoolTimeoutError
            | OperationalError
            | InterfaceError
            | KafkaError
            | asyncpg.PostgresConnectionError
            | asyncpg.InterfaceError
            | asyncpg.CannotConnectNowError
            | asyncpg.TooManyConnectionsError,
        ):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        code = _sqlstate(current)
        if code and code.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
            return True
        current = current.__cause__ or current.__context__
    return False
